"""The t-SNE stage's note for a source that cannot feed its genre metrics (DESIGN: a note, not a failure).

kNN genre accuracy and the genre silhouette need labels: at least two genres, each with at least two reference
mixes in `tsne.splits` (the kNN folds are stratified). A folder of audio without a genre CSV labels every
track `unknown`, and a small dataset can leave a genre with one track in the mapped splits; either way the
numbers do not exist, so the stage writes metrics.json with `measured: false` and the reason, and a figure
saying so, and `rule all` goes on. The ablation summary then leaves the cell's kNN column empty with the note.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

MIN_GENRES = 2
MIN_PER_GENRE = 2


def genre_counts(embeddings: Mapping[int, pd.DataFrame], splits: Sequence[str]) -> dict[str, int]:
    """Reference mixes (variant 0) per genre in `splits`, from the first seed (every seed embeds the same tracks)."""
    if not embeddings:
        return {}
    table = embeddings[min(embeddings)]
    refs = table[(table["variant_id"] == 0) & table["split"].isin(list(splits))]
    return {str(g): int(n) for g, n in refs["genre"].astype(str).value_counts().sort_index().items()}


def genre_shortfall(counts: Mapping[str, int]) -> str | None:
    """Why genre metrics cannot be measured on these counts, or None when they can."""
    if not counts:
        return None  # no reference mix at all: run_tsne's own error says which splits were empty
    if len(counts) < MIN_GENRES:
        return (f"only one genre ({next(iter(counts))!r}) among the reference mixes of the mapped splits: "
                "kNN genre accuracy and genre silhouette are not measured on this source (a folder source takes "
                "genres from dataset.genre_csv)")
    small = sorted(g for g, n in counts.items() if n < MIN_PER_GENRE)
    if small:
        return (f"genres with fewer than {MIN_PER_GENRE} reference mixes in the mapped splits ({', '.join(small)}): "
                "kNN genre accuracy and genre silhouette are not measured (add tracks or widen tsne.splits)")
    return None


def note_metrics(run: str, seeds: Sequence[int], splits: Sequence[str], counts: Mapping[str, int],
                 note: str) -> dict[str, Any]:
    """metrics.json of an unmeasured cell: no `embedding` / `features_baseline` numbers, the reason instead."""
    return {"run": run, "measured": False, "note": note, "n_seeds": len(seeds), "seeds": list(seeds),
            "splits": list(splits), "n_tracks": int(sum(counts.values())), "n_genres": len(counts),
            "genre_counts": dict(counts)}


def plot_note(note: str, path: str | Path) -> None:
    """The report figure of an unmeasured cell: the note itself, so the report says why there is no map."""
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 2.5))
    ax.axis("off")
    ax.text(0.5, 0.5, "t-SNE genre metrics not measured\n\n" + textwrap.fill(note, 90), ha="center", va="center",
            fontsize=9, transform=ax.transAxes)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
