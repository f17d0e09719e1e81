"""The bad-input battery: each case is a command a user could type, the substring its one `Error:` line
must hold, and (through `cli`) no uncaught exception and no existing file changed. Inputs that need no
training run to be refused, so the whole table takes seconds."""
import pytest

from test_bad_input import cli

OUT = ["--out", "{tmp}/o"]
C = ["compress", "--recipe", "dcgan-digits", *OUT]
T = ["train", "--recipe", "dcgan-digits", *OUT]


def opts(recipe, *sets, command="train"):
    return [command, "--recipe", recipe, *OUT, *[x for s in sets for x in ("--set", s)]]


CASES = [
    # numbers out of range, of the wrong type, or not numbers
    (C + ["--steps", "0"], "train.steps=0: must be >= 1"),
    (C + ["--steps", "-5"], "train.steps=-5: must be >= 1"),
    (T + ["--batch-size", "0"], "train.batch_size=0: must be >= 1"),
    (C + ["--set", "train.lr_g=-1"], "train.lr_g=-1.0: must be > 0"),
    (C + ["--set", "train.lr_g=abc"], "train.lr_g='abc': expected a number"),
    (C + ["--set", "train.ema=1.0"], "train.ema=1.0: must be in [0, 1)"),
    (C + ["--set", "train.lr_decay_start=1.5"], "train.lr_decay_start=1.5: must be in [0, 1]"),
    (T + ["--set", "train.steps=1.5"], "train.steps=1.5: expected an integer"),
    (C + ["--set", "train.batch_size=true"], "train.batch_size=True: expected an integer"),
    (T + ["--set", "train.channels_last=maybe"], "train.channels_last='maybe': expected true or false"),
    (C + ["--set", "train.log_every=-1"], "train.log_every=-1: must be >= 0"),
    (C + ["--set", "train.ckpt_every=-2"], "train.ckpt_every=-2: must be >= 0"),
    (C + ["--set", "train.eval_every=-1"], "train.eval_every=-1: must be >= 0"),
    (C + ["--set", "train.eval_samples=1"], "train.eval_samples=1: must be >= 2"),
    (C + ["--seed", "abc"], "'abc' is not a valid integer"),
    (C + ["--set", "train.amp=fp8"], "train.amp='fp8': valid: off, bf16, fp16"),
    (C + ["--set", "train.device=tpu"], "train.device='tpu': valid: auto, cpu, cuda, cuda:N"),
    # pruning settings
    (C + ["--set", "prune.initial=2"], "prune.initial=2.0: sparsity must be in [0, 1)"),
    (C + ["--set", "prune.target=null"], "prune.target=None: expected a number"),
    (C + ["--schedule", "cosine-x"], "prune.schedule='cosine-x': valid: agp, linear, oneshot"),
    (C + ["--set", "prune.criterion=random-x"], "prune.criterion='random-x': valid: "),
    (C + ["--set", "prune.scope=planet"], "prune.scope='planet': valid: layer, global"),
    (C + ["--granularity", "nm", "--set", "prune.n=5", "--set", "prune.m=4"], "prune.n=5: need 0 < n <= m (m=4)"),
    (C + ["--granularity", "nm", "--set", "prune.n=0"], "prune.n=0: need 0 < n <= m"),
    (C + ["--set", "prune.every=-1"], "prune.every=-1: must be >= 1 (or null: auto)"),
    (C + ["--set", "prune.begin=0.8", "--set", "prune.end=0.2"], "prune.begin=0.8: need 0 <= begin <= end=0.2"),
    (C + ["--set", "prune.layers=[]"], "prune.layers=(): valid kinds: conv, deconv, linear"),
    (C + ["--set", "prune.layers=[transformer]"], "valid kinds: conv, deconv, linear"),
    (C + ["--set", "prune.include=[nomatch.*]", "--steps", "1"], "matches include=['nomatch.*']"),
    # the method's options
    (C + ["--set", "technique_options.lambda_dc=-1"], "lambda_dc=-1.0: must be >= 0"),
    (C + ["--lambda", "-0.5"], "lambda_dc=-0.5: must be >= 0"),
    (C + ["--set", "technique_options.form=cube"], "form='cube': valid: abs, squared, one-sided"),
    (C + ["--set", "technique_options.reduction=median"], "reduction='median': valid: sample, batch, pooled"),
    (C + ["--set", "technique_options.unknown=1"], "unknown config key 'technique_options.unknown'"),
    # the shape of overrides and config values
    (C + ["--set", "noequals"], "override 'noequals': expected KEY=VALUE"),
    (C + ["--set", "train=3"], "train: expected a mapping, got 3"),
    (C + ["--set", "prune.target.x=1"], "'target' is not a section"),
    (C + ["--set", "recipe=3"], "recipe=3: expected a string"),
    (C + ["--set", "technique=[a]"], "technique=['a']: expected a string"),
    # config files
    (C + ["--config", "{tmp}/adir"], "is a directory"),
    (C + ["--config", "{tmp}/bin.yaml"], "is not text (a YAML file is expected)"),
    (C + ["--config", "{tmp}/list.yaml"], "must hold a mapping of config keys; it holds a list"),
    (C + ["--config", "{tmp}/noshiprec.yaml"], "extends: shipped needs the file's recipe: key"),
    (C + ["--config", "{tmp}/cycle.yaml"], "which extends it back (a cycle)"),
    # recipe options, per family
    (C + ["--set", "recipe_options.image_size=48"], "image_size=48: valid: 32, 64"),
    (C + ["--set", "recipe_options.nz=0"], "nz=0: must be >= 1"),
    (C + ["--set", "recipe_options.ngf=-3"], "ngf=-3: must be >= 1"),
    (C + ["--set", "recipe_options.dataset=imagenet"], "dataset='imagenet': valid: digits, mnist5k, mnist, folder"),
    (T + ["--set", "recipe_options.dataset=folder"], "dataset=folder needs data_root"),
    (C + ["--set", "recipe_options.colour=1"], "unknown config key 'recipe_options.colour'"),
    (opts("pix2pix-edges", "recipe_options.direction=sideways"), "direction='sideways': valid: AtoB, BtoA"),
    (opts("pix2pix-denoise", "recipe_options.direction=BtoA"), "dataset=denoise: direction must be AtoB"),
    (opts("cyclegan-photos", "recipe_options.pool_size=-1"), "pool_size=-1: must be >= 0"),
    (opts("srgan-photos", "recipe_options.scale=3"), "scale=3: valid: 2, 4, 8"),
    (opts("srgan-photos", "recipe_options.content=vgg"), "content=vgg needs vgg_weights"),
    (opts("stargan-textures", "recipe_options.image_size=30"), "image_size=30: must be divisible by 4"),
    (["train", "--recipe", "pix2pix", *OUT], "dataset=folder needs data_root"),
    (opts("cyclegan", "recipe_options.data_root={tmp}/adir"), "image folder '{tmp}/adir/testA' does not exist"),
    (opts("stargan-celeba", "recipe_options.data_root={tmp}/adir"), "CelebA image folder"),
    (opts("srgan-div2k", "recipe_options.data_root={tmp}/adir"), "DIV2K folder '{tmp}/adir/DIV2K_train_HR' does not exist"),
    (opts("dcgan-mnist", "recipe_options.dataset=mnist", "recipe_options.data_root={tmp}/adir"),
     "MNIST file train-images-idx3-ubyte[.gz] not found"),
    # teachers, checkpoints, output folders, feature networks
    (C + ["--teacher", "{tmp}/nonexistent"], "teacher '{tmp}/nonexistent' does not exist"),
    (C + ["--teacher", "{tmp}/emptyteacher"], "no weights for network 'G' in '{tmp}/emptyteacher'"),
    (C + ["--teacher", "{tmp}/textteacher"], "cannot load '{tmp}/textteacher/G.safetensors'"),
    (C + ["--set", "teacher={tmp}/text.txt"], "is not a weight file of recipe DCGANRecipe's networks"),
    (C + ["--resume"], "checkpoint '{tmp}/o/checkpoint.pt' does not exist"),
    (["compress", "--recipe", "dcgan-digits", "--out", "/dev/null/x"], "Not a directory: '/dev/null/x'"),
    (C + ["--inception", "{tmp}/text.txt"], "is not a TorchScript file (not a zip archive)"),
    (C + ["--inception", "{tmp}/nope.pt"], "Inception weights '{tmp}/nope.pt' not found"),
    # recipe files
    (["--recipe-file", "{tmp}/nope.py", "list"], "expected an existing .py file"),
    (["--recipe-file", "{tmp}/broken.py", "list"], "broken.py', line 1: invalid syntax"),
    (["--recipe-file", "{tmp}/raises.py", "list"], "failed while loading: ImportError: no such thing"),
    # evaluate, export, bench, report, compare
    (["evaluate", "--recipe", "dcgan-digits", "--teacher", "{tmp}/adir", "--student", "{tmp}/adir"],
     "give one of --teacher, --student and --export"),
    (["evaluate", "--export", "{tmp}/adir"], "has no recipe.yaml"),
    (["evaluate", "--recipe", "dcgan-digits", "--format", "onnx-int8"], "give --export DIR"),
    (["evaluate"], "--recipe is needed"),
    (["evaluate", "--recipe", "dcgan-digits", "--samples", "1"], "FID/KID need at least 2 samples"),
    (["evaluate", "--student", "{tmp}/adir"], "has no recipe.yaml: not a compress run directory"),
    (["evaluate", "--recipe", "nope"], "no teacher is shipped for 'nope'"),
    (["evaluate", "--recipe", "dcgan-digits", "--json", "{tmp}/text.txt"], "exists; pass --force to replace it"),
    (["export", "{tmp}/adir"], "has no recipe.yaml: not a compress run directory"),
    (["export", "{tmp}/adir", "--format", "zip"], "'zip' is not one of"),
    (["bench", "--student", "{tmp}/adir"], "has no recipe.yaml: not a compress run directory"),
    (["bench", "--student", "{tmp}/adir", "--image-size", "4"], "bench.image_size=4: must be >= 8"),
    (["bench", "--student", "{tmp}/adir", "--int8", "--backend", "torch"], "keep onnxruntime among the backends"),
    (["search", "--recipe", "dcgan-digits", "--max-ratio", "0.9", "--out", "{tmp}/s"], "max_ratio=0.9: must be >= 1"),
    (["search", "--recipe", "dcgan-digits", "--metric", "sparsity", "--out", "{tmp}/s"], "not a quality metric"),
    (["search", "--recipe", "dcgan-digits", "--rounds", "0", "--out", "{tmp}/s"], "rounds=0: must be >= 1"),
    (["train", "--recipe", "dcgan-digits", "--init", "{tmp}/emptyteacher", *OUT], "no weights for network 'G'"),
    (["train", "--recipe", "dcgan-digits", "--set", "technique=dense", "--set", "technique_options.weights.G/x=1",
      *OUT], "unknown term 'G/x'; valid: G/adv"),
    (["report", "{tmp}/adir", "--out", "{tmp}/r"], "not a run directory"),
    (["compare", "--techniques", "zz", "--out", "{tmp}/c"], "unknown technique id 'zz'"),
    (["compare", "--sparsity", "2", "--out", "{tmp}/c"], "prune.target=2.0: sparsity must be in [0, 1)"),
]


@pytest.fixture
def inputs(tmp_path):
    """The files the cases name: text, binary, YAML of the wrong shape, broken recipe files, bad teachers."""
    (tmp_path / "text.txt").write_text("hello")
    (tmp_path / "bin.yaml").write_bytes(b"\x00\x01\xff\xfe")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    (tmp_path / "noshiprec.yaml").write_text("extends: shipped\nprune:\n  target: 0.5\n")
    (tmp_path / "cycle.yaml").write_text("extends: cycle2.yaml\n")
    (tmp_path / "cycle2.yaml").write_text("extends: cycle.yaml\n")
    (tmp_path / "broken.py").write_text("def broken(:\n")
    (tmp_path / "raises.py").write_text("raise ImportError('no such thing')\n")
    for folder in ("adir", "emptyteacher", "textteacher"):
        (tmp_path / folder).mkdir()
    for net in ("G", "D"):
        (tmp_path / "textteacher" / f"{net}.safetensors").write_text("junk")
    return tmp_path


@pytest.mark.parametrize("args, expected", CASES, ids=[f"{i:02d}" for i in range(len(CASES))])
def test_bad_input_is_one_clear_error_and_changes_nothing(args, expected, inputs):
    fill = lambda s: s.replace("{tmp}", str(inputs))
    assert fill(expected) in cli(*map(fill, args))
