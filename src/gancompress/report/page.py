"""`gancompress report`: one self-contained HTML page (and Markdown) from run directories.

A run directory is recognised by what it holds: ``metrics.json`` (a train or compress
run), ``sweep.json`` (a sweep) or ``compare.json`` (a comparison of techniques).
"""
from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass, field
from pathlib import Path

from gancompress.metrics.result import Metrics
from gancompress.report.plots import bar_png, curves_png, sweep_png
from gancompress.rundir import RunDir



@dataclass
class Section:
    title: str
    tables: list[tuple[list[str], list[list[str]]]] = field(default_factory=list)
    images: list[tuple[str, bytes]] = field(default_factory=list)  # (caption, png)
    notes: list[str] = field(default_factory=list)


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)


def _log(run: Path) -> list[dict]:
    path = RunDir(run).log_file
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def run_section(run: Path) -> Section:
    """Metrics, pictures, curves and per-layer sparsity of one train/compress run."""
    m = RunDir(run).metrics()
    sec = Section(f"{run.name}: {m.get('technique', 'train')} on {m.get('recipe', '?')}")
    sec.notes.append(f"FID features: {m.get('features', 'unknown')}")
    cols = [c for c in ("teacher", "student") if c in m]
    numbers = [Metrics(m[cols[0]]).numbers(), Metrics(m[cols[-1]]).numbers()]
    keys = [k for k in dict.fromkeys(k for c in cols for k in m[c]) if any(k in n for n in numbers)]
    if m.get("real"):  # the scale: held-out real data scored like the generators
        cols.append("real")
    heads = ["metric", *(("real vs real" if c == "real" else c) for c in cols)]
    sec.tables.append((heads, [[k, *(_fmt(m[c].get(k)) for c in cols)] for k in keys]))
    if "fid_ratio" in m:
        sec.notes.append(f"FID ratio student/teacher: {m['fid_ratio']:.3f}")
    for name in RunDir.PICTURES:
        if (run / name).exists():
            sec.images.append((name.removesuffix(".png").replace("_", " "), (run / name).read_bytes()))
    log = _log(run)
    curves = curves_png(log)
    measured = any("eval/fid" in row for row in log)
    if curves:
        sec.images.append(("loss terms and FID during the run" if measured else "loss terms during the run",
                           curves))
    if not measured:
        sec.notes.append("No FID was measured during the run (train.eval_every=0): only the final scores above.")
    if m.get("layers"):
        sec.tables.append((["layer", "kind", "shape", "params", "nonzero", "sparsity"],
                           [[r["layer"], r["kind"], "x".join(map(str, r["shape"])), str(r["params"]),
                             str(r["nonzero"]), f"{r['sparsity']:.1%}"] for r in m["layers"]]))
    return sec


def sweep_section(run: Path) -> Section:
    rows = json.loads((run / RunDir.SWEEP).read_text())
    sec = Section(f"{run.name}: sparsity sweep")
    if rows:
        sec.notes.append(f"FID features: {rows[0]['features']}")
        sec.tables.append((["granularity", "target", "seed", "sparsity", "FID", "FID ratio", "coverage", "diversity"],
                           [[r["granularity"], f"{r['target']:.0%}", str(r.get("seed", "-")), f"{r['sparsity']:.3f}",
                             _fmt(r["student"]["fid"]), _fmt(r["fid_ratio"]), _fmt(r["student"].get("coverage")),
                             _fmt(r["student"].get("diversity"))] for r in rows]))
        sec.images.append(("FID against sparsity", sweep_png(rows)))
    return sec


def compare_section(run: Path) -> Section:
    results = json.loads((run / RunDir.COMPARE).read_text())
    sec = Section(f"{run.name}: techniques compared")
    keys = [k for k in ("fid", "fid_ratio", "kid", "coverage", "diversity", "sparsity", "flag")
            if any(k in r for r in results.values())]
    sec.tables.append((["id", "technique", *keys],
                       [[t, r.get("name", r.get("technique", "")), *(_fmt(r.get(k)) for k in keys)]
                        for t, r in results.items()]))
    fids = {t: r["fid"] for t, r in results.items() if "fid" in Metrics(r).numbers()}
    if fids:
        sec.images.append(("FID per technique", bar_png(fids, "FID")))
    if (run / "compare.png").exists():
        sec.images.append(("samples per technique (same inputs)", (run / "compare.png").read_bytes()))
    return sec


OVERVIEW_HEAD = ["run", "recipe", "technique", "sparsity", "teacher FID", "student FID", "FID ratio",
                 "real-vs-real FID"]


def overview_section(runs: list[Path]) -> Section | None:
    """One row per finished run, before the per-run sections; None when there are none."""
    rows = []
    for run in runs:
        if not RunDir(run).is_finished():
            continue
        m = RunDir(run).metrics()
        teacher, student = m.get("teacher", {}), m.get("student", {})
        rows.append([run.name, str(m.get("recipe", "?")), str(m.get("technique", "train")),
                     f"{student['sparsity']:.1%}" if "sparsity" in student else "dense",
                     _fmt(teacher.get("fid")), _fmt(student.get("fid")), _fmt(m.get("fid_ratio")),
                     _fmt((m.get("real") or {}).get("fid"))])
    if not rows:
        return None
    sec = Section("overview")
    sec.tables.append((OVERVIEW_HEAD, rows))
    return sec


def sections_for(run: Path) -> list[Section]:
    found = []
    if RunDir(run).is_finished():
        found.append(run_section(run))
    if (run / RunDir.SWEEP).exists():
        found.append(sweep_section(run))
    if (run / RunDir.COMPARE).exists():
        found.append(compare_section(run))
    if not found:
        raise FileNotFoundError(f"{run} holds no metrics.json, sweep.json or compare.json: not a run directory")
    return found


def to_html(sections: list[Section], title: str) -> str:
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;margin:.8em 0}td,th{border:1px solid #ccc;padding:3px 8px;"
             "text-align:right;font-size:13px}th{background:#f3f3f3}td:first-child{text-align:left}"
             "img{max-width:100%;border:1px solid #ddd;margin:.4em 0}figcaption{font-size:12px;color:#555}"
             "</style></head><body>", f"<h1>{html.escape(title)}</h1>"]
    for sec in sections:
        parts.append(f"<h2>{html.escape(sec.title)}</h2>")
        parts += [f"<p>{html.escape(n)}</p>" for n in sec.notes]
        for head, rows in sec.tables:
            parts.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>")
            parts += ["<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows]
            parts.append("</table>")
        for caption, png in sec.images:
            data = base64.b64encode(png).decode()
            parts.append(f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,{data}'>"
                         f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _markdown_text(text: str) -> str:
    """Text from run names and metrics, inert in Markdown: HTML escaped (renderers pass raw HTML through),
    table pipes escaped."""
    return html.escape(str(text)).replace("|", "\\|")


def to_markdown(sections: list[Section], title: str, image_dir: Path) -> str:
    image_dir.mkdir(parents=True, exist_ok=True)
    esc = _markdown_text
    lines = [f"# {esc(title)}", ""]
    for i, sec in enumerate(sections):
        lines += [f"## {esc(sec.title)}", ""] + [f"{esc(n)}  " for n in sec.notes] + [""]
        for head, rows in sec.tables:
            lines += ["| " + " | ".join(map(esc, head)) + " |", "|" + "---|" * len(head)]
            lines += ["| " + " | ".join(map(esc, r)) + " |" for r in rows] + [""]
        for j, (caption, png) in enumerate(sec.images):
            name = f"s{i}_{j}.png"
            (image_dir / name).write_bytes(png)
            lines += [f"![{caption}]({image_dir.name}/{name})", ""]
    return "\n".join(lines)


def build_report(runs: list[str | Path], out: str | Path, title: str = "gancompress report",
                 force: bool = False) -> dict[str, Path]:
    """Write ``out/report.html`` (self-contained) and ``out/report.md`` (+ its images); an earlier report
    there is replaced only with `force`."""
    from gancompress.io import atomic_write

    out = Path(out)
    earlier = [name for name in ("report.html", "report.md") if (out / name).exists()]
    if earlier and not force:
        raise FileExistsError(f"{str(out)!r} holds an earlier report ({', '.join(earlier)}); pass --force to "
                              "replace it, or choose another --out")
    sections = [s for run in runs for s in sections_for(Path(run))]
    overview = overview_section([Path(r) for r in runs])
    sections = ([overview] if overview else []) + sections
    html_path = atomic_write(out / "report.html", lambda tmp: Path(tmp).write_text(to_html(sections, title)))
    md = to_markdown(sections, title, out / "report_files")
    md_path = atomic_write(out / "report.md", lambda tmp: Path(tmp).write_text(md))
    return {"html": html_path, "markdown": md_path}
