"""Many `compress` runs at once, each in its own worker process (`compare --jobs`, `sweep --jobs`).

Runs of a comparison or a sweep are independent: each trains one student in its own run
directory. `run_pending` starts those whose directory holds no finished run, ``jobs`` at a
time (resuming any that an interrupted batch left half done), and shares the CPU threads
out among them (one thread each on a 2-core machine at ``jobs=2``). A worker's console
output goes to ``<run dir>.log`` beside its directory, and one progress bar counts the
finished runs. A failed run does not stop the others; when all have ended, the failures
are raised together, naming each run's log. Finished runs stay reusable, so the caller
then aggregates them with `run_metrics` as if it had run them itself.
"""
from __future__ import annotations

import json
import logging
import subprocess
import sys
import traceback
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import torch
from tqdm.auto import tqdm

from gancompress.config import RunConfig, from_mapping, to_dict
from gancompress.errors import RunsFailed
from gancompress.rundir import RunDir


def log_path(cfg: RunConfig) -> Path:
    """Where a worker writes the console output of run `cfg`: ``<run dir>.log`` beside it."""
    out = Path(cfg.out)
    return out.with_name(out.name + ".log")


def pending(cfgs: list[RunConfig]) -> list[RunConfig]:
    """The configs whose run directory does not yet hold a finished run."""
    return [cfg for cfg in cfgs if not RunDir(cfg.out).is_finished()]


def check_reusable(cfg: RunConfig) -> None:
    """Refuse a run directory of `cfg` that holds a run (finished or half done) with other settings:
    it would be passed off as this one's (a resume may run longer; a reuse may not)."""
    from gancompress.api import RESUME_MAY_CHANGE, changed_settings

    run = RunDir(cfg.out)
    if not run.config_file.exists():
        return
    changed = {k: v for k, v in changed_settings(run, cfg).items() if k == "train.steps" or k not in RESUME_MAY_CHANGE}
    if changed:
        key, (was, now) = next(iter(changed.items()))
        state = "finished" if run.is_finished() else "half-done"
        raise ValueError(f"{run.path} holds a {state} run with other settings ({key}: {was!r}, now {now!r}); "
                         "remove it to rerun, or choose another --out")


def run_pending(cfgs: list[RunConfig], jobs: int, desc: str = "runs") -> None:
    """Check every run of `cfgs` may be reused or resumed (`check_reusable`), then compress those not
    finished yet, `jobs` at a time in worker processes (``jobs=1``: left to the caller)."""
    if jobs < 1:
        raise ValueError(f"jobs={jobs}: must be >= 1")
    for cfg in cfgs:
        check_reusable(cfg)
    todo = pending(cfgs)
    if jobs == 1 or not todo:
        return  # the caller runs them one after another, in its own process, with their own bars
    threads = max(1, torch.get_num_threads() // min(jobs, len(todo)))
    failures = []
    # each worker is a fresh `python -m gancompress.pool`: unlike multiprocessing's spawn, it does not
    # re-import the caller's main script (which, unguarded, would start the whole batch again)
    with ThreadPoolExecutor(max_workers=min(jobs, len(todo))) as workers:
        futures = {workers.submit(_run_worker, cfg, threads): cfg for cfg in todo}
        for future in tqdm(as_completed(futures), total=len(futures), desc=f"{desc} ({jobs} at a time)", unit="run"):
            if future.result() is not None:
                cfg = futures[future]
                failures.append(f"{cfg.out}: {future.result()} (log: {log_path(cfg)})")
    if failures:
        raise RunsFailed(f"{len(failures)} of {len(todo)} runs failed; the others are finished and kept:\n  "
                         + "\n  ".join(failures))


ERROR_MARK = "gancompress.pool error: "


def _run_worker(cfg: RunConfig, threads: int) -> str | None:
    """Run `cfg` in a worker process; None when it finished, else its error (the log's last marked line)."""
    path = log_path(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as stream:
        code = subprocess.run([sys.executable, "-m", "gancompress.pool", json.dumps(to_dict(cfg)), str(threads)],
                              stdout=stream, stderr=subprocess.STDOUT).returncode
    if code == 0:
        return None
    errors = [line[len(ERROR_MARK):] for line in path.read_text(errors="replace").splitlines()
              if line.startswith(ERROR_MARK)]
    return errors[-1] if errors else f"the worker exited with code {code}"


def run_metrics(cfg: RunConfig) -> dict:
    """The metrics of run `cfg`: a finished run's as saved, else `api.compress(cfg)`, resuming the run an
    interrupted batch left in its directory (its checkpoint)."""
    from gancompress.api import compress, holds_checkpoint

    run = RunDir(cfg.out)
    return run.metrics() if run.is_finished() else compress(cfg, resume=holds_checkpoint(run))


def worker_main(argv: list[str]) -> int:
    """``python -m gancompress.pool CONFIG_JSON THREADS``: one run, its output on stdout / stderr (the log)."""
    cfg = from_mapping(RunConfig, json.loads(argv[0]))
    torch.set_num_threads(int(argv[1]))
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        run_metrics(cfg)
    except Exception as err:  # noqa: BLE001 -- reported to the parent by its marked line, traceback above it
        traceback.print_exc()
        print(ERROR_MARK + (str(err).splitlines() or [type(err).__name__])[0], file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1:]))
