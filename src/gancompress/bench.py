"""Deployment cost of teacher vs student generators: parameters, MACs, file size, latency.

Latency is measured in torch (default NCHW layout, or ``torch-nhwc``: the nets and images in
channels-last layout, which oneDNN often runs faster on thin pruned layers) and in onnxruntime
on CPU with a fixed thread count, teacher and student calls interleaved (so drifting machine load hits both alike);
median, p90 and throughput (images per second at the median). On a CUDA machine the
student's 2:4 semi-structured kernels are timed too (``gancompress.export.semi``).
"""
from __future__ import annotations

import contextlib
import copy
import functools
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from gancompress.export.materialize import materialize
from gancompress.nets import Inputs, example_inputs, run
from gancompress.rundir import RunDir

BACKENDS = ("torch", "torch-nhwc", "onnxruntime")
DEFAULT_BACKENDS = ("torch", "onnxruntime")


@dataclass(frozen=True)
class BenchOptions:
    batch_size: int = 1
    threads: int = 1
    repeats: int = 30
    warmup: int = 3
    backends: tuple = DEFAULT_BACKENDS
    materialize: bool = True  # bench the student with its dead channels removed
    image_size: int | None = None  # side of the generated images (None: the recipe's own)
    int8: bool = False  # also time the student quantised to int8 (onnxruntime, static, per channel)
    layers: bool = False  # also time every MAC layer in torch (where the milliseconds go)
    seed: int = 0

    def __post_init__(self) -> None:
        for key in ("batch_size", "threads", "repeats"):
            if getattr(self, key) < 1:
                raise ValueError(f"bench.{key}={getattr(self, key)}: must be >= 1")
        if self.image_size is not None and self.image_size < 8:
            raise ValueError(f"bench.image_size={self.image_size}: must be >= 8")
        if self.int8 and "onnxruntime" not in self.backends:
            raise ValueError("bench.int8 times an onnxruntime model: keep onnxruntime among the backends")
        if self.warmup < 0:
            raise ValueError(f"bench.warmup={self.warmup}: must be >= 0")
        bad = [b for b in self.backends if b not in BACKENDS]
        if bad or not self.backends:
            raise ValueError(f"bench.backends={list(self.backends)}: valid: {', '.join(BACKENDS)}")


# -- static costs ---------------------------------------------------------------------------
def count_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


MAC_LAYERS = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)


def layer_macs(net: nn.Module, inputs: Inputs) -> dict[str, int]:
    """Multiply-accumulates of one forward pass per sample, per Conv2d / ConvTranspose2d / Linear layer.

    Counted here rather than with ``torch_pruning.utils.count_ops_and_params``: that counter
    counts a transposed convolution at every output position (stride**2 times the multiplies
    it really does at stride > 1), adds bias additions and norm / activation operations;
    ``tests/test_bench.py`` checks the two agree wherever their conventions do.
    """
    names = {m: n for n, m in net.named_modules()}
    counts: dict[str, int] = {}

    def hook(module, args, out):
        x = args[0]
        if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
            taps = module.kernel_size[0] * module.kernel_size[1] // module.groups
            if module.transposed:  # every input element meets out/groups * k*k weights
                macs = x.numel() * module.out_channels * taps
            else:
                macs = out.numel() * module.in_channels * taps
        else:
            macs = out.numel() * module.in_features
        counts[names[module]] = counts.get(names[module], 0) + macs

    hooks = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, MAC_LAYERS)]
    try:
        with torch.no_grad():
            run(net, inputs)
    finally:
        for h in hooks:
            h.remove()
    batch = next(a for a in inputs[0] if torch.is_tensor(a)).shape[0]
    return {name: macs // batch for name, macs in counts.items()}


def count_macs(net: nn.Module, inputs: Inputs) -> int:
    """Multiply-accumulates of one forward pass per sample, over all Conv2d/ConvTranspose2d/Linear layers."""
    return sum(layer_macs(net, inputs).values())


def file_bytes(net: nn.Module, sparse: bool = False) -> int:
    """Size of `net`'s weights as a dense (or compact sparse) safetensors file."""
    from gancompress.export.formats import save_sparse
    from gancompress.io import save_weights

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "w.safetensors"
        (save_sparse(net.state_dict(), path) if sparse else save_weights(net, path))
        return path.stat().st_size


# -- resolution --------------------------------------------------------------------------------
def _image_args(inputs: Inputs) -> list[int]:
    """Positions of the image-like arguments: floating 4-D tensors with a spatial extent."""
    args, _ = inputs
    return [i for i, a in enumerate(args) if torch.is_tensor(a) and a.is_floating_point() and a.dim() == 4
            and a.shape[-1] > 1 and a.shape[-2] > 1]


def _output_side(net: nn.Module, inputs: Inputs) -> int:
    with torch.no_grad():
        out = run(net, inputs)
    out = out[0] if isinstance(out, (tuple, list)) else out
    return out.shape[-1]


def resize_images(inputs: Inputs, side: int) -> Inputs:
    """`inputs` with every image-like argument resized (bilinear) to `side` x `side`; the rest as they are."""
    args, kwargs = inputs
    resized = list(args)
    for i in _image_args(inputs):
        resized[i] = torch.nn.functional.interpolate(args[i], size=(side, side), mode="bilinear", align_corners=False)
    return tuple(resized), kwargs


def input_side(inputs: Inputs) -> int:
    """The side of the first image-like argument."""
    args, _ = inputs
    return args[_image_args(inputs)[0]].shape[-1]


def at_image_size(net: nn.Module, inputs: Inputs, size: int, key: str = "G") -> Inputs:
    """`inputs` with their images resized so that `net` generates `size` x `size` images (for a
    super-resolver the input side is `size` / its scale). ValueError where `net` is not fully
    convolutional: no image input (a latent vector fixes the output size), or another output size."""
    positions = _image_args(inputs)
    args, kwargs = inputs
    if not positions:
        shapes = ", ".join(str(tuple(a.shape)) for a in args if torch.is_tensor(a))
        raise ValueError(f"generator {key!r} takes no image (its inputs: {shapes}), so its output size is fixed "
                         f"by its architecture at {_output_side(net, inputs)} px: bench it without --image-size")
    first = args[positions[0]]
    scale = _output_side(net, inputs) / first.shape[-1]
    side = size / scale
    if side != int(side):
        raise ValueError(f"--image-size {size}: generator {key!r} scales its input by {scale:g}, so the size must "
                         f"be a multiple of {scale:g}")
    moved = resize_images(inputs, int(side))
    try:
        got = _output_side(net, moved)
    except RuntimeError as err:
        raise ValueError(f"generator {key!r} is not fully convolutional: at {size} px it fails ({err})") from None
    if got != size:
        raise ValueError(f"generator {key!r} is not fully convolutional: asked for {size} px, it made {got} px")
    return moved


# -- latency -----------------------------------------------------------------------------------
@contextlib.contextmanager
def torch_threads(n: int):
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _callables(net: nn.Module, inputs: Inputs, backend: str, threads: int, workdir: Path, tag: str):
    """A no-argument function running one forward pass in `backend`."""
    args, kwargs = inputs
    if backend == "torch":
        return functools.partial(_forward, net, args, kwargs)
    if backend == "torch-nhwc":
        nhwc = copy.deepcopy(net).to(memory_format=torch.channels_last)
        args = [a.contiguous(memory_format=torch.channels_last) if torch.is_tensor(a) and a.dim() == 4 else a
                for a in args]
        return functools.partial(_forward, nhwc, args, kwargs)
    from gancompress.export.formats import export_onnx, onnx_feed, onnx_session

    session = onnx_session(export_onnx(net, inputs, workdir / f"{tag}.onnx"), threads)
    feed = onnx_feed(session, inputs)  # built once, outside the timed call
    return lambda: session.run(None, feed)


def _summary(seconds: list[float], batch: int) -> dict:
    t = torch.tensor(seconds, dtype=torch.float64)
    median = float(t.median())
    return {"ms_median": round(median * 1e3, 4), "ms_p90": round(float(t.quantile(0.9)) * 1e3, 4),
            "images_per_s": round(batch / median, 2)}


def time_interleaved(calls: dict[str, callable], repeats: int, warmup: int) -> dict[str, list[float]]:
    """Seconds per call for each function, calling them in turn `repeats` times."""
    for _ in range(warmup):
        for fn in calls.values():
            fn()
    times: dict[str, list[float]] = {k: [] for k in calls}
    for _ in range(repeats):
        for key, fn in calls.items():
            start = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - start)
    return times


def layer_latency(models: dict[str, nn.Module], inputs: Inputs, repeats: int, warmup: int) -> list[dict]:
    """Where each model's torch milliseconds go: one row per MAC layer (module order), its MACs per
    sample and median ms in every model, then a "(rest)" row (norms, activations, padding, adds: the
    median forward pass minus its layers). Layers are timed by hooks around them; calls interleaved."""
    names = list(dict.fromkeys(n for net in models.values() for n, m in net.named_modules()
                               if isinstance(m, MAC_LAYERS)))
    seconds = {name: {n: [] for n in names} for name in models}
    hooks, started = [], {}
    for name, net in models.items():
        for n, m in net.named_modules():
            if isinstance(m, MAC_LAYERS):
                hooks.append(m.register_forward_pre_hook(lambda *_, n=n: started.__setitem__(n, time.perf_counter())))
                hooks.append(m.register_forward_hook(
                    lambda *_, n=n, name=name: seconds[name][n].append(time.perf_counter() - started[n])))
    args, kwargs = inputs
    try:
        calls = {name: functools.partial(_forward, net.eval(), args, kwargs) for name, net in models.items()}
        time_interleaved(calls, 0, warmup)
        for per_layer in seconds.values():  # the warm-up calls are not counted
            for xs in per_layer.values():
                xs.clear()
        totals = time_interleaved(calls, repeats, 0)
    finally:
        for h in hooks:
            h.remove()
    macs = {name: layer_macs(net, inputs) for name, net in models.items()}
    median = lambda xs: float(torch.tensor(xs, dtype=torch.float64).median()) * 1e3 if xs else None  # noqa: E731
    rows = [{"layer": n, **{f"{name}_macs": macs[name].get(n) for name in models},
             **{f"{name}_ms": median(seconds[name][n]) for name in models}} for n in names]
    rest = {f"{name}_ms": median(totals[name]) - sum(r[f"{name}_ms"] or 0.0 for r in rows) for name in models}
    return rows + [{"layer": "(rest)", **{f"{name}_macs": None for name in models}, **rest}]


def _forward(net: nn.Module, args, kwargs):
    with torch.inference_mode():
        return net(*args, **kwargs)


# -- teacher vs student --------------------------------------------------------------------------
def bench_models(models: dict[str, nn.ModuleDict], inputs: dict[str, Inputs],
                 opts: BenchOptions = BenchOptions(), calibration: dict[str, list[Inputs]] | None = None) -> dict:
    """Static costs and latency of each model (e.g. {"teacher": ..., "student": ...}), per generator key.

    With `calibration` (per key, the inputs to calibrate on), the last model is also quantised to int8 and
    timed in onnxruntime as "<name>-int8" (its MACs are the float model's, done in int8)."""
    rows = []
    keys = list(inputs)
    with torch_threads(opts.threads), tempfile.TemporaryDirectory() as tmp:
        for key in keys:
            for name, gens in models.items():
                net = gens[key].eval()
                rows.append({"model": name, "net": key, "params": count_params(net),
                             "macs": count_macs(net, inputs[key]), "file_bytes": file_bytes(net),
                             "sparse_file_bytes": file_bytes(net, sparse=True)})
            int8 = _int8_call(models, key, inputs[key], calibration, opts.threads, Path(tmp), rows)
            for backend in opts.backends:
                calls = {name: _callables(gens[key].eval(), inputs[key], backend, opts.threads, Path(tmp),
                                          f"{name}_{key}") for name, gens in models.items()}
                if backend == "onnxruntime" and int8:
                    calls.update(int8)
                times = time_interleaved(calls, opts.repeats, opts.warmup)
                for row in rows:
                    if row["net"] == key and row["model"] in times:
                        row[backend] = _summary(times[row["model"]], opts.batch_size)
        layers = {key: layer_latency({name: gens[key] for name, gens in models.items()}, inputs[key], opts.repeats,
                                     opts.warmup) for key in keys} if opts.layers else None
    result = {"device": "cpu", "threads": opts.threads, "torch": torch.__version__, "options": asdict(opts),
              "rows": rows, **({"layers": layers} if layers else {})}
    result["ratios"] = ratios(rows, *list(models)[:2]) if len(models) >= 2 else {}
    if calibration and len(models) >= 2:
        int8 = ratios(rows, list(models)[0], f"{list(models)[-1]}-int8")
        for key, entry in int8.items():
            result["ratios"][key].update({f"int8_{k}": v for k, v in entry.items() if k.startswith("onnxruntime")
                                          or k == "file_bytes_reduction"})
    return result


def _int8_call(models: dict[str, nn.ModuleDict], key: str, inputs: Inputs, calibration, threads: int,
               workdir: Path, rows: list[dict]) -> dict:
    """{"<last model>-int8": a call of its int8 onnxruntime model} (and its row), or {} without calibration."""
    if not calibration:
        return {}
    from gancompress.export.formats import export_onnx, onnx_feed, onnx_session
    from gancompress.export.quantize import quantize_onnx

    name, gens = list(models.items())[-1]
    float_model = export_onnx(gens[key].eval(), inputs, workdir / f"{name}_{key}.float.onnx")
    path = quantize_onnx(float_model, workdir / f"{name}_{key}.int8.onnx", calibration[key])
    source = next(r for r in rows if r["model"] == name and r["net"] == key)
    rows.append({**source, "model": f"{name}-int8", "file_bytes": path.stat().st_size,
                 "sparse_file_bytes": path.stat().st_size})
    session = onnx_session(path, threads)
    feed = onnx_feed(session, inputs)
    return {f"{name}-int8": lambda: session.run(None, feed)}


def ratios(rows: list[dict], base: str = "teacher", other: str = "student") -> dict:
    """Per generator: base/other for params, MACs, file size, and speed-ups (base median / other median)."""
    out = {}
    for key in dict.fromkeys(r["net"] for r in rows):
        a = next(r for r in rows if r["net"] == key and r["model"] == base)
        b = next(r for r in rows if r["net"] == key and r["model"] == other)
        entry = {f"{m}_reduction": round(a[m] / max(b[m], 1), 3) for m in ("params", "macs", "file_bytes")}
        for backend in BACKENDS:
            if backend in a and backend in b:
                speedup = a[backend]["ms_median"] / b[backend]["ms_median"]
                entry[f"{backend}_speedup"] = round(speedup, 3)
                # how much of the MAC saving becomes speed (1: all of it)
                entry[f"{backend}_efficiency"] = round(speedup / max(entry["macs_reduction"], 1e-9), 3)
        out[key] = entry
    return out


def load_pair(student_run: str | Path, teacher_dir: str | Path | None = None):
    """(recipe, teacher generators, student generators) of a compress run.

    The teacher defaults to the run's own (``teacher`` in its config.yaml), else the shipped one.
    """
    import dataclasses

    from gancompress import api
    from gancompress.config import load_config, saved_config

    run = RunDir(student_run)
    recipe, student = api.load_student(run.path)
    name, _ = run.recipe_spec()
    cfg = saved_config(run.config_file) if run.config_file.exists() else load_config(None, [f"recipe={name}"])
    if teacher_dir is not None:
        cfg = dataclasses.replace(cfg, teacher=str(teacher_dir))
    _, teacher = api.load_teacher(cfg)
    return recipe, teacher, student


def bench_run(student_run: str | Path, teacher_dir: str | Path | None = None,
              opts: BenchOptions = BenchOptions()) -> dict:
    """Teacher vs (materialized) student of a compress run, on CPU."""
    recipe, teacher, student = load_pair(student_run, teacher_dir)
    teacher, student = teacher.cpu(), student.cpu()
    inputs = example_inputs(recipe, student, n=opts.batch_size, seed=opts.seed)
    if opts.image_size is not None:
        inputs = {key: at_image_size(teacher[key].eval(), inputs[key], opts.image_size, key) for key in inputs}
    info = {}
    if opts.materialize:
        smaller = nn.ModuleDict()
        for key, net in student.items():
            m = materialize(net, inputs[key])
            smaller[key] = m.net
            info[key] = {"removed_channels": sum(m.removed.values()), "max_output_change": m.deviation}
        student = smaller
    calibration = None
    if opts.int8:
        from gancompress.export.quantize import calibration_inputs

        calibration = calibration_inputs(recipe, student)
        if opts.image_size is not None:  # at the side `inputs` were already checked at
            calibration = {key: [resize_images(x, input_side(inputs[key])) for x in batches]
                           for key, batches in calibration.items()}
    result = bench_models({"teacher": teacher, "student": student}, inputs, opts, calibration)
    result.update(student_run=str(student_run), materialize=info)
    gpu = _gpu_semi_structured(student, inputs)
    if gpu:
        result["cuda_2to4"] = gpu
    return result


def _gpu_semi_structured(student: nn.ModuleDict, inputs: dict[str, Inputs]) -> dict | None:
    if not torch.cuda.is_available():
        return None
    from gancompress.export.semi import bench_semi_structured

    return {key: bench_semi_structured(net, inputs[key]) for key, net in student.items()}


# -- presentation ----------------------------------------------------------------------------------
def to_markdown(result: dict) -> str:
    """The result as a Markdown table (one row per model and generator) plus the ratio lines."""
    backends = [b for b in BACKENDS if any(b in r for r in result["rows"])]
    head = ["model", "net", "params", "MMACs", "file KB", "sparse file KB"]
    for b in backends:
        head += [f"{b} ms (median)", f"{b} ms (p90)", f"{b} img/s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in result["rows"]:
        cells = [r["model"], r["net"], f"{r['params']:,}", f"{r['macs'] / 1e6:.2f}", f"{r['file_bytes'] / 1024:.1f}",
                 f"{r['sparse_file_bytes'] / 1024:.1f}"]
        for b in backends:
            s = r.get(b)  # (an int8 model runs in onnxruntime only)
            cells += [f"{s['ms_median']:.3f}", f"{s['ms_p90']:.3f}", f"{s['images_per_s']:.1f}"] if s else ["-"] * 3
        lines.append("| " + " | ".join(cells) + " |")
    for key, ratio in result.get("ratios", {}).items():
        lines.append("")
        lines.append(f"{key}: " + ", ".join(f"{k} {v:.2f}x" for k, v in ratio.items()))
    for key, layers in result.get("layers", {}).items():
        lines += ["", f"{key}, per layer (torch):", "", layers_markdown(layers)]
    lines.append("")
    size = result["options"].get("image_size")
    lines.append(f"CPU, {result['threads']} thread(s), batch {result['options']['batch_size']}, "
                 + (f"{size} px images, " if size else "")
                 + f"{result['options']['repeats']} interleaved repeats, torch {result['torch']}")
    return "\n".join(lines)


def layers_markdown(layers: list[dict]) -> str:
    """`layer_latency` rows as a table: per model MMACs, ms and GMAC/s; speed-up of the last over the first."""
    models = [k[:-3] for k in layers[0] if k.endswith("_ms")]
    head = ["layer"] + [f"{m} {c}" for m in models for c in ("MMACs", "ms", "GMAC/s")] + [f"{models[-1]} speed-up"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in layers:
        cells = [row["layer"]]
        for m in models:
            macs, ms = row[f"{m}_macs"], row[f"{m}_ms"]
            cells += ["-" if macs is None else f"{macs / 1e6:.2f}", "-" if ms is None else f"{ms:.3f}",
                      f"{macs / ms / 1e6:.1f}" if macs and ms else "-"]
        first, last = row[f"{models[0]}_ms"], row[f"{models[-1]}_ms"]
        cells.append(f"{first / last:.2f}x" if first and last and last > 0 else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
