"""`compare_records`: two analyses side by side: embedding distance overall and per stem, the encoder-free
feature distance, and the features that differ most (by their difference in reference standard deviations),
each in its unit (`mixrep.features.columns`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from mixrep.apps import style
from mixrep.stems import STEMS
from mixrep.transfer.distances import cosine_distance


def compare_records(a: dict[str, Any], b: dict[str, Any], stats: dict[str, dict[str, float]],
                    top: int = 10) -> dict[str, Any]:
    za, zb = np.asarray(a["embedding"]), np.asarray(b["embedding"])
    d = za.size // len(STEMS)  # the embedding is four blocks of d: vocals, bass, drums, other
    per_stem = {s: float(cosine_distance(za[k * d:(k + 1) * d], zb[k * d:(k + 1) * d])) for k, s in enumerate(STEMS)}
    fa, fb = a["features"], b["features"]
    diffs = []
    for column, s in stats.items():
        delta = fb[column] - fa[column]
        diffs.append({"column": column, "a": fa[column], "b": fb[column], "difference": delta,
                      "unit": style.UNITS[column], "standardised": delta / s["std"]})
    diffs.sort(key=lambda r: -abs(r["standardised"]))
    return {"a": a["file"], "b": b["file"],
            "embedding_distance": float(cosine_distance(za, zb)), "embedding_distance_per_stem": per_stem,
            "feature_distance": style.feature_distance(fa, fb, stats),
            "distance_note": "embedding: 1 - cos(z_a, z_b) with the bundle's encoder; feature: RMS of the "
                             "feature differences in units of the reference mixes' standard deviations",
            "top_differences": diffs[:top]}


def format_comparison(result: dict[str, Any]) -> str:
    lines = [f"A: {result['a']}", f"B: {result['b']}",
             f"embedding distance (1 - cos): {result['embedding_distance']:.4f}",
             "  per stem: " + ", ".join(f"{s} {v:.4f}" for s, v in result["embedding_distance_per_stem"].items()),
             f"feature distance (reference std units): {result['feature_distance']:.3f}",
             "features that differ most (B - A):"]
    for r in result["top_differences"]:
        lines.append(f"  {r['column']:<36} {r['a']:9.2f} -> {r['b']:9.2f} {r['unit']:<9} "
                     f"({r['difference']:+.2f}, {r['standardised']:+.2f} sd)")
    return "\n".join(lines)
