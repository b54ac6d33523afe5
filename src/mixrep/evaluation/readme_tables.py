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


def render_readme_tables(results_dir: str | Path) -> dict[str, str]:
    """{block name: markdown} from results/ablation/summary.csv and summary.md."""
    ablation = Path(results_dir) / "ablation"
    csv, md = ablation / "summary.csv", ablation / "summary.md"
    for path in (csv, md):
        if not path.exists():
            raise FileNotFoundError(f"{path} missing: run the ablation summary first")
    return {SUMMARY_BLOCK: summary_block(pd.read_csv(csv, keep_default_na=True, dtype={"seeds": str})),
            VERDICTS_BLOCK: verdicts_block(md.read_text())}


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
