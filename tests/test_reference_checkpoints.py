"""Teachers exactly as the reference implementations' own scripts save them, at their default sizes.

Each folder holds several epochs / iterations under the reference's file names, with
different weights, so a test can tell which one was loaded: the latest, by number.
The student comes back in the same file names as torch state dicts that a model of the
reference's layout loads with plain ``load_state_dict(strict=True)``.
"""
import json

import pytest
import torch
from click.testing import CliRunner
from conftest import FIXTURES, invoke_ok, recipe_option_args
from torch import nn

from gancompress.cli import main
from gancompress.nets import example_inputs, run
from gancompress.recipes import get_recipe
from gancompress.recipes.weights import WeightSource, find_weights, load_student, without_legacy_norm_keys

# recipe -> (options besides the reference's defaults: data, smaller crops where the net allows;
#            {network: its files, the one that must be loaded last})
REFERENCES = {
    "dcgan-mnist": ({"dataset": "mnist", "data_root": "<mnist>"},  # pytorch/examples dcgan --dataset mnist
                    {"G": ["netG_epoch_9.pth", "netG_epoch_24.pth"], "D": ["netD_epoch_9.pth", "netD_epoch_24.pth"]}),
    "pix2pix": ({"data_root": "<aligned>"},  # junyanz: unet_256, 256 px
                {"G": ["5_net_G.pth", "40_net_G.pth", "latest_net_G.pth"],
                 "D": ["5_net_D.pth", "40_net_D.pth", "latest_net_D.pth"]}),
    "cyclegan": ({"data_root": "<unaligned>", "image_size": 64, "load_size": 72},  # resnet_9blocks
                 {k: [f"10_net_{k}.pth", f"200_net_{k}.pth"] for k in ("G_A", "G_B", "D_A", "D_B")}),
    "stargan-celeba": ({"data_root": "<celeba-reference>"},  # yunjey: 128 px, 6 residual blocks
                       {"G": ["90000-G.ckpt", "200000-G.ckpt"], "D": ["90000-D.ckpt", "200000-D.ckpt"]}),
    "srgan-leftthomas": ({"hr_crop": 32},  # leftthomas/SRGAN: epochs/netG_epoch_{scale}_{epoch}.pth
                         {"G": ["netG_epoch_4_9.pth", "netG_epoch_4_100.pth"],
                          "D": ["netD_epoch_4_9.pth", "netD_epoch_4_100.pth"]}),
}


def _celeba_as_the_reference_leaves_it(root):
    """data/celeba/images/ + list_attr_celeba.txt, as yunjey/stargan's download script lays it out."""
    FIXTURES["<celeba>"](root)
    (root / "img_align_celeba").rename(root / "images")
    return root


def _options(recipe_name, tmp_path):
    options = dict(REFERENCES[recipe_name][0])
    root = options.get("data_root")
    if root == "<celeba-reference>":
        options["data_root"] = str(_celeba_as_the_reference_leaves_it(tmp_path / "celeba"))
    elif root in FIXTURES:
        options["data_root"] = str(FIXTURES[root](tmp_path / root.strip("<>")))
    return options


def _reference_folder(recipe, files: dict[str, list[str]], folder, legacy_norm_keys=False):
    """The networks saved as the reference saves them; each older file gets other weights."""
    folder.mkdir(parents=True, exist_ok=True)
    nets = {**recipe.build_generators(), **recipe.build_discriminators()}
    for key, names in files.items():
        for seed, name in enumerate(names):
            torch.manual_seed(seed)
            state = {k: v + torch.randn_like(v) * 0.01 if v.is_floating_point() else v
                     for k, v in nets[key].state_dict().items()}
            if legacy_norm_keys:  # saved before InstanceNorm stopped tracking statistics
                for name_, m in nets[key].named_modules():
                    if isinstance(m, nn.InstanceNorm2d):
                        state[f"{name_}.running_mean"] = torch.zeros(m.num_features)
                        state[f"{name_}.running_var"] = torch.ones(m.num_features)
                        state[f"{name_}.num_batches_tracked"] = torch.tensor(0)
            torch.save(state, folder / name)
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("recipe_name", list(REFERENCES))
def test_reference_checkpoints_load_as_saved_compress_and_go_back(recipe_name, tmp_path):
    options = _options(recipe_name, tmp_path)
    recipe = get_recipe(recipe_name, options)
    files = REFERENCES[recipe_name][1]
    teacher = _reference_folder(recipe, files, tmp_path / "teacher", legacy_norm_keys=recipe_name == "cyclegan")
    out = tmp_path / "student"
    printed = invoke_ok(main, "compress", "--recipe", recipe_name, "--teacher", teacher, "--steps", 2,
                        "--set", "train.batch_size=1", "--set", "train.eval_samples=2", "--set", "train.log_every=1",
                        *recipe_option_args(options), "--out", out)
    metrics = json.loads((out / "metrics.json").read_text())
    for key, names in files.items():
        assert metrics["teacher_files"][key].endswith(names[-1])  # the latest, compared as numbers
        assert f"teacher {key}: {teacher / names[-1]}" in printed
        assert metrics["reference_files"][key].endswith(names[-1])

    # the student goes back into a model of the reference's layout, strictly, and computes the same
    _, student = load_student(out)
    for key in student:
        fresh = recipe.build_generators()[key]
        fresh.load_state_dict(torch.load(out / "reference" / files[key][-1]), strict=True)
        inputs = example_inputs(recipe, student)[key]
        with torch.no_grad():
            assert torch.allclose(run(fresh.eval(), inputs), run(student[key], inputs), atol=1e-6)


def test_numbers_not_text_decide_the_latest_and_a_named_file_wins(tmp_path):
    recipe = get_recipe("stargan-textures")
    for name in ("9000-G.ckpt", "10000-G.ckpt", "200000-G.ckpt", "10000-D.ckpt", "200000-D.ckpt"):
        (tmp_path / name).touch()
    assert find_weights(tmp_path, "G", recipe).name == "200000-G.ckpt"  # text order would pick 9000
    named = WeightSource.of(tmp_path / "10000-G.ckpt")
    assert find_weights(named, "G", recipe).name == "10000-G.ckpt"
    assert find_weights(named, "D", recipe).name == "10000-D.ckpt"  # the same iteration as the named file
    (tmp_path / "latest_net_G.pth").touch()
    assert find_weights(tmp_path, "G", get_recipe("pix2pix-edges")).name == "latest_net_G.pth"


def test_a_named_file_of_no_network_is_refused(tmp_path, tiny_recipe):
    teacher = tmp_path / "t"
    recipe = tiny_recipe("dcgan-digits")
    _reference_folder(recipe, {"G": ["netG_epoch_1.pth"], "D": ["netD_epoch_1.pth"]}, teacher)
    (teacher / "notes.pth").write_bytes((teacher / "netG_epoch_1.pth").read_bytes())
    result = CliRunner().invoke(main, ["compress", "--teacher", str(teacher / "notes.pth"), "--steps", "1",
                                       *map(str, recipe_option_args({"image_size": 32, "nz": 8, "ngf": 4, "ndf": 4})),
                                       "--out", str(tmp_path / "o")])
    assert result.exit_code == 1  # a one-line error, not a crash
    assert "notes.pth" in result.output and "netG_epoch_*.pth" in result.output


def test_legacy_instance_norm_statistics_are_dropped_as_the_reference_does():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.InstanceNorm2d(4), nn.BatchNorm2d(4))
    state = {**net.state_dict(), "1.running_mean": torch.zeros(4), "1.running_var": torch.ones(4),
             "1.num_batches_tracked": torch.tensor(0)}
    kept = without_legacy_norm_keys(net, state)
    assert set(kept) == set(net.state_dict())  # BatchNorm's own statistics stay
