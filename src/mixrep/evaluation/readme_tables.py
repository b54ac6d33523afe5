"""README result blocks generated from the result files, never copied by hand.

The README marks each generated block with `<!-- BEGIN generated:<name> -->` ... `<!-- END generated:<name> -->`;
`update_readme` rewrites what lies between, `check_readme` lists the blocks that differ from the result files
(a stale README after a new run), so a check can fail instead of the README silently drifting.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from mixrep.evaluation.stats import METRIC_KINDS

SUMMARY_BLOCK = "ablation-summary"
VERDICTS_BLOCK = "ablation-verdicts"
SEPARATION_BLOCK = "separation"
CROSSED_BLOCK = "crossed"
STAGES_BLOCK = "stage-times"
RUN_BLOCK = "run"
STEMS = ("vocals", "bass", "drums", "other")


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- BEGIN generated:{name} -->", f"<!-- END generated:{name} -->"


def _num(x: float) -> str:
    return "—" if not np.isfinite(x) else f"{x:.3f}"


def summary_block(table: pd.DataFrame) -> str:
    """One row per source: seeds and, per metric, value [low, high] (the interval of summary.csv)."""
    metrics = [m for m in METRIC_KINDS if m in table.columns]
    header = ["source", "kind", "seeds", *metrics]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in table.to_dict("records"):
        cells = [f"`{row['source']}`", str(row["kind"]), str(row.get("n_seeds", ""))]
        for m in metrics:
            v = float(row.get(m, np.nan))
            cells.append("—" if not np.isfinite(v) else
                         f"{_num(v)} [{_num(float(row[f'{m}_low']))}, {_num(float(row[f'{m}_high']))}]")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdicts_block(markdown: str) -> str:
    """The `## Verdicts` section of summary.md, without its heading."""
    match = re.search(r"^## Verdicts\s*$(.*?)(?=^## |\Z)", markdown, flags=re.M | re.S)
    if match is None:
        raise ValueError("summary.md has no `## Verdicts` section")
    return match.group(1).strip()


def separation_block(evaluation: Mapping) -> str:
    """Margins over mixture/4 per stem with their interval and wins, and the museval-style SDR."""
    margins = evaluation.get("margin_over_baseline") or {}
    if not margins:
        return f"Separation not measured: {evaluation.get('note', 'no true stems')}"
    lines = ["| stem | margin over mixture/4 (dB) | 95 % interval | tracks won |", "|---|---:|---:|---:|"]
    for stem in STEMS:
        m = margins.get(stem)
        if m:
            low, high = m["ci95"]
            lines.append(f"| {stem} | {m['mean']:+.2f} | [{low:+.2f}, {high:+.2f}] | {m['wins']} / {m['tracks']} |")
    museval = evaluation.get("sdr_museval") or {}
    separated = museval.get("separated") if isinstance(museval, Mapping) else None
    baseline = museval.get("baseline") if isinstance(museval, Mapping) else None
    if isinstance(separated, Mapping) and isinstance(separated.get("median"), Mapping):
        values = ", ".join(f"{stem} {float(separated['median'][stem]):.2f}" for stem in STEMS
                           if stem in separated["median"])
        base = (f" (mixture/4: {float(baseline['mean_over_stems']):.2f})"
                if isinstance(baseline, Mapping) and "mean_over_stems" in baseline else "")
        lines += ["", f"museval-style SDR (BSS Eval v4, median of 1 s frames, then of tracks): {values}; "
                      f"**avg {float(separated['mean_over_stems']):.2f} dB**{base}."]
    return "\n".join(lines)


def crossed_block(table: pd.DataFrame) -> str:
    """Per source: style kNN across content, content leakage (with chance), distance ratio, rock-metal."""
    if "measured" not in table.columns or not table["measured"].astype(bool).any():
        note = table["note"].iloc[0] if "note" in table.columns and len(table) else "not measured"
        return f"Crossed content x style set not measured: {note}"
    lines = ["| source | style kNN across content (chance) | content leakage (chance) | distance ratio style/content "
             "| rock–metal prior distance (rank of 28) |", "|---|---|---|---|---|"]
    for row in table.to_dict("records"):
        lines.append(f"| `{row['source']}` | {_num(float(row['style_knn']))} ({_num(float(row['style_knn_chance']))}) "
                     f"| {_num(float(row['content_leakage']))} ({_num(float(row['content_leakage_chance']))}) "
                     f"| {_num(float(row['distance_ratio_style_over_content']))} "
                     f"| {_num(float(row['rock_metal_distance']))} ({int(row['rock_metal_rank'])}) |")
    return "\n".join(lines)


def stages_block(benchmarks_dir: Path) -> str:
    """Per rule: jobs, mean and summed wall seconds, largest peak RSS (Snakemake's benchmark files)."""
    rows = []
    for path in sorted(benchmarks_dir.rglob("*.tsv")):
        rule = path.relative_to(benchmarks_dir).parts[0]
        table = pd.read_csv(path, sep="\t")
        rows.append({"rule": rule, "s": float(table["s"].iloc[0]), "rss": float(table["max_rss"].iloc[0])})
    if not rows:
        return "No benchmark files."
    frame = pd.DataFrame(rows).groupby("rule").agg(jobs=("s", "size"), mean_s=("s", "mean"), total_s=("s", "sum"),
                                                   max_rss=("rss", "max")).sort_values("total_s", ascending=False)
    lines = ["| rule | jobs | mean s | total s | peak RSS MB |", "|---|---:|---:|---:|---:|"]
    for rule, row in frame.iterrows():
        lines.append(f"| {rule} | {int(row['jobs'])} | {row['mean_s']:.1f} | {row['total_s']:.0f} | "
                     f"{row['max_rss']:.0f} |")
    lines.append(f"| all jobs | {int(frame['jobs'].sum())} | | {frame['total_s'].sum():.0f} | |")
    return "\n".join(lines)


def run_block(log_dir: Path) -> str | None:
    """`Elapsed time` and steps of the newest Snakemake log (the run the README reports)."""
    logs = sorted(log_dir.glob("*.snakemake.log"))
    if not logs:
        return None
    text = logs[-1].read_text()
    elapsed = re.findall(r"Elapsed time: (\S+)", text)
    steps = re.findall(r"(\d+) of (\d+) steps \(100%\) done", text)
    if not elapsed or not steps:
        return f"{logs[-1].name}: the run did not finish"
    hours, minutes, seconds = elapsed[-1].split(":")
    total = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    return (f"Snakemake log `{logs[-1].name}`: {steps[-1][1]} jobs done, elapsed "
            f"**{int(total // 60)} min {int(round(total % 60))} s**.")


def render_readme_tables(results_dir: str | Path) -> dict[str, str]:
    """{block name: markdown} from the result files of a run (results/ and the .snakemake/log beside it)."""
    import json

    results = Path(results_dir)
    ablation = results / "ablation"
    csv, md = ablation / "summary.csv", ablation / "summary.md"
    for path in (csv, md):
        if not path.exists():
            raise FileNotFoundError(f"{path} missing: run the ablation summary first")
    blocks = {SUMMARY_BLOCK: summary_block(pd.read_csv(csv, keep_default_na=True, dtype={"seeds": str})),
              VERDICTS_BLOCK: verdicts_block(md.read_text())}
    separation = results / "separation" / "eval.json"
    if separation.exists():
        blocks[SEPARATION_BLOCK] = separation_block(json.loads(separation.read_text()))
    crossed = results / "crossed" / "summary.csv"
    if crossed.exists():
        blocks[CROSSED_BLOCK] = crossed_block(pd.read_csv(crossed))
    if (results / "benchmarks").is_dir():
        blocks[STAGES_BLOCK] = stages_block(results / "benchmarks")
    run = run_block(results.resolve().parent / ".snakemake" / "log")
    if run is not None:
        blocks[RUN_BLOCK] = run
    return blocks


def _span(text: str, name: str, path: str | Path) -> tuple[int, int]:
    """(start, end) of the text between the block's markers."""
    begin, end = _markers(name)
    i = text.find(begin)
    if i < 0:
        raise ValueError(f"{path}: marker `{begin}` missing")
    j = text.find(end, i + len(begin))
    if j < 0:
        raise ValueError(f"{path}: marker `{end}` missing (after `{begin}`)")
    return i + len(begin), j


def _replace(text: str, blocks: Mapping[str, str], path: str | Path) -> str:
    for name, block in blocks.items():
        start, stop = _span(text, name, path)
        text = text[:start] + "\n" + block.strip("\n") + "\n" + text[stop:]
    return text


def update_readme(readme_path: str | Path, blocks: Mapping[str, str]) -> None:
    """Rewrite each named block between its markers (every marker must be there: nothing is half-written)."""
    path = Path(readme_path)
    text = path.read_text()
    new = _replace(text, blocks, path)
    if new != text:
        path.write_text(new)


def check_readme(readme_path: str | Path, blocks: Mapping[str, str]) -> list[str]:
    """Names of the blocks whose README text differs from what the result files generate."""
    path = Path(readme_path)
    text = path.read_text()
    stale = []
    for name, block in blocks.items():
        start, stop = _span(text, name, path)
        if text[start:stop].strip("\n") != block.strip("\n"):
            stale.append(name)
    return stale
