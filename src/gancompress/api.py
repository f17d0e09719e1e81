"""The Python API behind the CLI: train a teacher, compress it, evaluate, run the demo."""
from __future__ import annotations

import copy
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

import torch
from torch import nn

from gancompress.config import ConfigError, RunConfig, from_mapping, to_dict
from gancompress.errors import CheckpointError
from gancompress.io import read_yaml, save_networks, write_json  # noqa: F401  (write_json: part of the API)
from gancompress.metrics.result import Metrics
from gancompress.recipes import RECIPES, get_recipe
from gancompress.recipes.base import EvalContext, Recipe
from gancompress.recipes.modules import GANLoss, ModuleRecipe
from gancompress.recipes.weights import (WeightSource, check_named, load_networks, load_student,  # noqa: F401
                                        save_in_teacher_format)
from gancompress.report.grid import grid_image, labelled_panels, save_png
from gancompress.rundir import STUDENT, TRAINED, RunDir
from gancompress.techniques import TECHNIQUES, get_technique
from gancompress.techniques.base import Setup
from gancompress.training.checkpoint import previous_path
from gancompress.training.distributed import DistEnv, device_for, init_from_env, leave
from gancompress.training.trainer import Trainer

ASSETS = Path(__file__).parent / "assets"
log = logging.getLogger("gancompress")


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"train.device={name}: no CUDA device here (torch.cuda.is_available() is False); "
                         "use cpu or auto")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"train.device={name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return device


def shipped_teacher(recipe_name: str) -> Path:
    return ASSETS / "teachers" / recipe_name


# -- teacher folders: {net} weight files plus recipe.yaml ---------------------------------
def recipe_for(cfg: RunConfig, teacher_dir: Path | None) -> Recipe:
    """The run's recipe; options start from the teacher's recipe.yaml, then the config's."""
    options: dict = {}
    if teacher_dir is not None and RunDir(teacher_dir).has_recipe():
        name, saved = RunDir(teacher_dir).recipe_spec()
        if name != cfg.recipe:
            raise ValueError(f"teacher {str(teacher_dir)!r} was trained with recipe {name!r}, not {cfg.recipe!r}")
        options.update(saved)
    options.update(cfg.recipe_options)
    return get_recipe(cfg.recipe, options)


def write_recipe_file(out: Path, cfg: RunConfig, recipe: Recipe) -> None:
    RunDir(out).write_recipe_spec(cfg.recipe, to_dict(recipe.opt))


# -- evaluation ----------------------------------------------------------------------------
def feature_net_for(recipe: Recipe, inception: str | None):
    """Inception when given (or cached), else the recipe's offline network, else the one the recipe brings,
    else `NoFeatures` (no FID, and the outputs say so)."""
    from gancompress.metrics.features import NoFeatures, describe, resolve_feature_net

    if inception or recipe.default_feature_net is not None:
        return resolve_feature_net(inception, recipe.default_feature_net)
    if recipe.feature_net is None:
        return NoFeatures()
    recipe.feature_net.description = describe(recipe.feature_net)
    return recipe.feature_net


@torch.no_grad()
def real_reference(recipe: Recipe, feature_net, n_samples: int, device: torch.device) -> dict:
    """Real data scored against itself on the same features (the scale of FID/KID): ``metrics.json``'s
    ``real``; empty where the recipe defines none or there are no features."""
    from gancompress.metrics.features import NoFeatures

    from gancompress.data.images import DataError

    if isinstance(feature_net, NoFeatures):
        return {}
    try:
        return dict(Metrics(recipe.real_metrics(EvalContext(feature_net, n_samples, device)) or {}))
    except DataError as err:  # e.g. 2 held-out images: enough for the model's metrics, not for two halves
        log.info(f"no real-vs-real reference: {err}")
        return {}


@torch.no_grad()
def evaluate(recipe: Recipe, gens: nn.ModuleDict, feature_net, n_samples: int, device: torch.device) -> Metrics:
    was_training = gens.training
    gens.eval()
    try:
        return Metrics(recipe.evaluate(gens, EvalContext(feature_net, n_samples, device)))
    finally:
        gens.train(was_training)


def periodic_eval(recipe: Recipe, technique, feature_net, cfg: RunConfig, device: torch.device):
    """The trainer's ``on_eval`` hook: the numeric metrics of the generators being trained."""
    def on_eval(step: int) -> dict:
        return evaluate(recipe, technique.student, feature_net, cfg.train.eval_samples, device).numbers()
    return on_eval


@torch.no_grad()
def sample_sheet(recipe: Recipe, panels: dict[str, nn.ModuleDict], path: Path, n: int = 64,
                 device: torch.device = torch.device("cpu")) -> Path:
    """Side-by-side grids of several generators on the same inputs."""
    batch = {k: v.to(device) for k, v in next(recipe.eval_batches(n, seed=7, batch_size=n)).items()}
    images = []
    for title, gens in panels.items():
        was = gens.training
        gens.eval()
        tiles = recipe.display(batch, recipe.generate(gens, batch))
        width = tiles.shape[-1]  # wide tiles (input | output | target) get fewer columns and no upscaling
        label = f"{title}: {recipe.display_legend}" if recipe.display_legend else title
        images.append((label, grid_image(tiles, nrow=max(1, min(8, 1024 // width)), scale=2 if width <= 64 else 1)))
        gens.train(was)
    return save_png(labelled_panels(images), path)


# -- commands ------------------------------------------------------------------------------
@contextmanager
def _distributed(device: torch.device) -> Iterator[tuple[DistEnv, torch.device]]:
    """Join torchrun's process group when launched by it (single process otherwise); leave it together."""
    env = init_from_env(device.type)
    finished = False
    try:
        yield env, device_for(env, device)
        finished = True
    finally:
        leave(env, finished)


def holds_checkpoint(run: RunDir) -> bool:
    """Whether `run` holds a training checkpoint (or the previous one, kept while the next is written)."""
    return run.checkpoint.exists() or previous_path(run.checkpoint).exists()


@contextmanager
def _claimed(cfg: RunConfig, resume: bool, env: DistEnv = DistEnv(), teacher: Path | None = None) -> Iterator[Path]:
    """`cfg.out`, held by this run for its whole length (one run per directory), checked and prepared:
    never a teacher's folder, never a run's unless resuming it, never a folder of the user's own files."""
    run = RunDir(cfg.out)
    if teacher is not None and run.path.resolve() == teacher.resolve():
        raise ValueError(f"--out {str(run.path)!r} is the teacher's folder: the run would overwrite its files; "
                         "choose another --out")
    with run.locked(enabled=env.is_main):
        if not resume and holds_checkpoint(run):
            raise FileExistsError(f"{run.path} already holds a run; pass --resume to continue it or choose "
                                  "another --out")
        if resume and run.config_file.exists():
            _check_resumable(run, cfg)
        if env.is_main:  # (torchrun: rank 0 checks and writes; the others only use the folder)
            others = run.foreign_files()
            if not resume and others:
                raise FileExistsError(f"{run.path} already holds files ({', '.join(others[:3])}"
                                      f"{', ...' if len(others) > 3 else ''}); choose an empty or new --out")
            run.remove_stale_temporaries()
            run.write_config(to_dict(cfg))
        run.path.mkdir(parents=True, exist_ok=True)
        yield run.path


# what may change when a run is resumed: its length, how it reports, where it runs
RESUME_MAY_CHANGE = ("train.steps", "train.log_every", "train.ckpt_every", "train.eval_every", "train.eval_samples",
                     "train.device", "inception", "out")


def changed_settings(run: RunDir, cfg: RunConfig) -> dict[str, tuple]:
    """Dotted key -> (saved, now) for every setting where `cfg` differs from the config `run` saved."""
    def flat(d: dict, prefix: str = "") -> dict:
        """``{"prune": {"target": 0.5}}`` -> ``{"prune.target": 0.5}`` (option mappings stay whole)."""
        out = {}
        for key, value in d.items():
            if isinstance(value, dict) and key not in ("recipe_options", "technique_options"):
                out.update(flat(value, f"{prefix}{key}."))
            else:
                out[prefix + key] = value
        return out

    saved, now = flat(read_yaml(run.config_file.read_text()) or {}), flat(to_dict(cfg))
    return {k: (saved.get(k), now.get(k)) for k in sorted(set(saved) | set(now)) if saved.get(k) != now.get(k)}


def _check_resumable(run: RunDir, cfg: RunConfig) -> None:
    """Refuse `--resume` with settings that would make it another run than the one saved; say so when it
    only runs longer."""
    changed = changed_settings(run, cfg)
    refused = [k for k in changed if k not in RESUME_MAY_CHANGE]
    if refused:
        raise ValueError("--resume with a changed config: " + "; ".join(f"{k} {changed[k][0]!r} -> {changed[k][1]!r}"
                                                                        for k in refused[:4])
                         + "; resume with the saved settings (see its config.yaml) or start a new --out")
    if "train.steps" in changed:
        was, now = changed["train.steps"]
        log.info(f"resuming to {now} steps (the run was set for {was})")


def _setup(cfg: RunConfig, recipe: Recipe, device: torch.device, teacher: WeightSource | Path | None,
           files: dict[str, Path] | None = None) -> Setup:
    """The technique's inputs; the teacher's networks are loaded from `teacher` (their files go to `files`)."""
    teacher_gens = teacher_discs = None
    if teacher is not None:
        teacher_gens, teacher_discs = recipe.build_generators(), recipe.build_discriminators()
        source = teacher if isinstance(teacher, WeightSource) else WeightSource(Path(teacher))
        check_named(source, recipe, [*teacher_gens, *teacher_discs])
        load_networks(teacher_gens, source, recipe, files=files)
        load_networks(teacher_discs, source, recipe, files=files)
        teacher_gens, teacher_discs = teacher_gens.to(device), teacher_discs.to(device)
    return Setup(recipe=recipe, teacher_gens=teacher_gens, teacher_discs=teacher_discs, prune=cfg.prune,
                 total_steps=cfg.train.steps, lr_g=cfg.train.lr_g or recipe.lr_g,
                 lr_d=cfg.train.lr_d or recipe.lr_d, device=device)


def train(cfg: RunConfig, resume: bool = False) -> dict:
    """Train a dense teacher (generators and discriminators) with the recipe's own losses, from a fresh
    initialisation or, with ``cfg.init``, from an earlier run's or teacher's weights."""
    if cfg.technique != "dense" and (cfg.technique != RunConfig.technique or cfg.technique_options):
        raise ConfigError(f"train runs the dense technique, not {cfg.technique!r}: set technique: dense "
                          "(its technique_options: weights), or leave technique and technique_options out")
    cfg = from_mapping(RunConfig, {**to_dict(cfg), "technique": "dense"})
    device = resolve_device(cfg.train.device)
    init = Path(cfg.init) if cfg.init else None
    recipe = recipe_for(cfg, init)
    with _distributed(device) as (env, device), _claimed(cfg, resume, env, teacher=init) as out:
        return _train(cfg, recipe, env, device, out, resume, init)


def _train(cfg: RunConfig, recipe: Recipe, env: DistEnv, device: torch.device, out: Path, resume: bool,
           init: Path | None) -> dict:
    torch.manual_seed(cfg.train.seed)  # network initialisation
    technique = get_technique("dense", _setup(cfg, recipe, device, init), cfg.technique_options)
    feats = feature_net_for(recipe, cfg.inception)
    # real data scored against itself: the scale of the metrics, and a check (before training) that the
    # data are large enough for them
    real = real_reference(recipe, feats, cfg.train.eval_samples, device) if env.is_main else {}
    started = time.perf_counter()
    Trainer(recipe, technique, cfg.train, out, device, env=env,
            on_eval=periodic_eval(recipe, technique, feats, cfg, device)).run(resume=resume)
    seconds = time.perf_counter() - started
    if not env.is_main:
        return {}
    save_networks(technique.student, out)
    save_networks(technique.discriminators, out)
    write_recipe_file(out, cfg, recipe)
    log.info(f"scoring the trained generator on {cfg.train.eval_samples} evaluation samples")
    metrics = {"recipe": cfg.recipe, "features": feats.description, "train_seconds": round(seconds, 1),
               **({"init": str(init)} if init else {}),
               "teacher": evaluate(recipe, technique.student, feats, cfg.train.eval_samples, device),
               "real": real}
    RunDir(out).write_metrics(metrics)
    sample_sheet(recipe, {"samples": technique.student}, out / "samples.png", device=device)
    return metrics


def compress(cfg: RunConfig, resume: bool = False) -> dict:
    """Compress a trained teacher with `cfg.technique`; write weights, metrics and pictures."""
    RECIPES.get(cfg.recipe), TECHNIQUES.get(cfg.technique)  # unknown names fail first, listing valid ones
    if cfg.init:
        raise ConfigError(f"init={cfg.init!r} is for `gancompress train`; compress starts from the teacher (--teacher)")
    device = resolve_device(cfg.train.device)
    teacher = teacher_source(cfg)
    recipe = recipe_for(cfg, teacher.directory)
    with _distributed(device) as (env, device), _claimed(cfg, resume, env, teacher.directory) as out:
        teacher_files: dict[str, Path] = {}
        setup = _setup(cfg, recipe, device, teacher, teacher_files)
        return _compress(cfg, recipe, setup, env, device, out, resume, teacher_files)


def _compress(cfg: RunConfig, recipe: Recipe, setup: Setup, env: DistEnv, device: torch.device, out: Path,
              resume: bool, teacher_files: dict[str, Path]) -> dict:
    """Everything after the teacher is loaded: train, save, evaluate, draw (shared by `compress_gan`)."""
    teacher_copy = copy.deepcopy(setup.teacher_gens)  # techniques may put the teacher in train mode
    feats = feature_net_for(recipe, cfg.inception)
    # the teacher is scored first: data too small for the metrics fails now, not after the whole run
    if env.is_main:
        log.info(f"scoring the teacher on {cfg.train.eval_samples} evaluation samples ({feats.description})")
    teacher_metrics = evaluate(recipe, teacher_copy, feats, cfg.train.eval_samples, device) if env.is_main else {}
    real = real_reference(recipe, feats, cfg.train.eval_samples, device) if env.is_main else {}
    torch.manual_seed(cfg.train.seed)  # initialisation of anything not copied from the teacher
    technique = get_technique(cfg.technique, setup, cfg.technique_options)
    started = time.perf_counter()
    Trainer(recipe, technique, cfg.train, out, device, env=env,
            on_eval=periodic_eval(recipe, technique, feats, cfg, device)).run(resume=resume)
    seconds = time.perf_counter() - started
    if not env.is_main:  # rank 0 evaluates and writes everything
        return {}

    student = technique.student
    paths = save_networks(student, out, prefix=STUDENT)
    if technique.discriminators is not None:
        save_networks(technique.discriminators, out, prefix=TRAINED)
    write_recipe_file(out, cfg, technique.student_recipe)  # the student's architecture (narrower for a small net)
    reference_dir = RunDir(out).reference_dir  # the teacher's own file names, when it came in them
    reference = {**save_in_teacher_format(student, teacher_copy, teacher_files, reference_dir),
                 **save_in_teacher_format(technique.discriminators or nn.ModuleDict(),
                                          setup.teacher_discs or nn.ModuleDict(), teacher_files, reference_dir)}
    pruned = technique.pruner.masks.keys() if technique.pruner else ()
    sparsity = _saved_sparsity(paths, student, pruned)
    log.info(f"scoring the student on {cfg.train.eval_samples} evaluation samples")
    metrics = {
        "recipe": cfg.recipe, "technique": cfg.technique, "features": feats.description,
        "compress_seconds": round(seconds, 1),
        "teacher": teacher_metrics,
        "student": {**evaluate(recipe, student, feats, cfg.train.eval_samples, device), "sparsity": sparsity},
        "real": real,
        "layers": technique.pruner.report() if technique.pruner else [],
        "teacher_files": {k: str(p) for k, p in teacher_files.items()},
        "reference_files": {k: str(p) for k, p in reference.items()},
    }
    metrics.update(quality_ratios(metrics["teacher"], metrics["student"]))
    RunDir(out).write_metrics(metrics)
    sample_sheet(recipe, {"teacher (dense)": teacher_copy, f"student ({sparsity:.0%} sparse)": student},
                 out / "teacher_vs_student.png", device=device)
    return metrics


@dataclass
class Compressed:
    """What `compress_gan` returns: the student generator (masked weights), its metrics, its run directory."""

    generator: nn.Module
    metrics: dict
    out: Path


def compress_gan(generator: nn.Module, discriminator: nn.Module, data, *, z_shape: int | tuple,
                 loss: str | GANLoss = "hinge", sparsity: float = 0.5, granularity: str = "element",
                 steps: int = 600, technique: str = "self-supervised", out: str | Path = "runs/my-gan",
                 feature_net: nn.Module | None = None, prune: dict | None = None, train: dict | None = None,
                 technique_options: dict | None = None, resume: bool = False) -> Compressed:
    """Compress your own trained GAN from in-memory modules (see `gancompress.recipes.modules`).

    `generator` maps noise (N, *z_shape) to images in [-1, 1], `discriminator` images to scores; `data`
    is the real images (a tensor, a dataset, or an iterable of batches); `loss` a standard name
    (vanilla, lsgan, hinge, wgan-gp) or a `GANLoss`. `prune` / `train` take any other PruneConfig /
    TrainConfig keys (e.g. ``{"layers": ["conv", "deconv", "linear"]}``). Your modules are not changed.
    """
    recipe = ModuleRecipe(generator, discriminator, data, loss, z_shape, feature_net=feature_net)
    cfg = from_mapping(RunConfig, {"recipe": "custom", "technique": technique, "out": str(out),
                                   "technique_options": dict(technique_options or {}),
                                   "prune": {"target": sparsity, "granularity": granularity, **(prune or {})},
                                   "train": {"steps": steps, **(train or {})}})
    TECHNIQUES.get(cfg.technique)
    with _distributed(resolve_device(cfg.train.device)) as (env, device):
        setup = replace(_setup(cfg, recipe, device, None),  # the teacher: copies of the user's modules
                        teacher_gens=nn.ModuleDict({"G": copy.deepcopy(generator)}).to(device),
                        teacher_discs=nn.ModuleDict({"D": copy.deepcopy(discriminator)}).to(device))
        with _claimed(cfg, resume, env) as run_dir:
            metrics = _compress(cfg, recipe, setup, env, device, run_dir, resume, {})
    student = load_networks(recipe.build_generators(), run_dir, recipe, prefix=STUDENT, what="student")
    return Compressed(student["G"].eval(), metrics, run_dir)


def quality_ratios(teacher: dict, student: dict) -> dict[str, float]:
    """Student/teacher ratio of every FID- and PSNR-like metric: ``{"fid_ratio": ..., "fid_A2B_ratio": ...}``."""
    return Metrics(student).ratios_to(teacher)


def teacher_source(cfg: RunConfig) -> WeightSource:
    """`cfg.teacher` (a folder, or one of its weight files), or the teacher shipped for its recipe."""
    path = Path(cfg.teacher) if cfg.teacher else shipped_teacher(cfg.recipe)
    if not path.exists():
        raise CheckpointError(f"teacher {str(path)!r} does not exist"
                              + ("" if cfg.teacher else f" (no teacher is shipped for {cfg.recipe!r}; pass --teacher)"))
    return WeightSource.of(path)


def load_teacher(cfg: RunConfig, device: torch.device = torch.device("cpu")) -> tuple[Recipe, nn.ModuleDict]:
    """The recipe and the teacher generator(s) `cfg` names (the shipped teacher by default)."""
    source = teacher_source(cfg)
    recipe = recipe_for(cfg, source.directory)
    return recipe, load_networks(recipe.build_generators(), source, recipe).to(device).eval()


def _saved_sparsity(paths: list[Path], student: nn.ModuleDict, pruned_layers) -> float:
    """Zero fraction of the pruned layers' weights, counted from the files just written."""
    from safetensors.torch import load_file

    zeros = total = 0
    for path, key in zip(paths, student.keys()):
        state = load_file(str(path))
        names = [f"{layer.split('.', 1)[1]}.weight" for layer in pruned_layers if layer.startswith(key + ".")]
        for name in names:
            zeros += int((state[name] == 0).sum())
            total += state[name].numel()
    return zeros / total if total else 0.0


DEMO_CONFIG = "dcgan-digits"


def demo(out: str = "runs/demo", steps: int | None = None, overrides: list[str] = ()) -> dict:
    """Compress the shipped DCGAN teacher to 50% element sparsity with its shipped config (`DEMO_CONFIG`)."""
    from gancompress.config import load_config

    extra = [f"out={out}"] + ([f"train.steps={steps}"] if steps else []) + list(overrides)
    return compress(load_config(DEMO_CONFIG, extra))
