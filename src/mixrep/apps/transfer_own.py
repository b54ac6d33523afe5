"""`transfer_file`: the workflow's stem-aware ST-ITO (`mixrep.transfer.run.transfer_pair`: chain, CMA-ES,
presets) on a person's own source and reference, with the bundle's encoder as the style embedding.

Unlike `analyze`, this holds both tracks' stems in memory (the chain renders the whole source)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from mixrep.apps.bundle import Bundle
from mixrep.apps.inputs import iter_chunks, scan
from mixrep.apps.analyze import stem_paths
from mixrep.audio import read_stems
from mixrep.transfer.embedding import encoder_embed_fn, feature_embed_fn
from mixrep.transfer.pairs import Pair
from mixrep.transfer.params import STEM_PARAMS
from mixrep.transfer.run import METRICS, TransferSettings, transfer_pair


def track_stems(path: Path, bundle: Bundle, stems_dir: Path | None) -> np.ndarray:
    """(4, 2, N) stems of one file: given (DIR/<name>/<stem>.wav) or separated chunk by chunk."""
    info = scan(path)
    if stems_dir is not None:
        paths = stem_paths(stems_dir, path.stem)
        return read_stems(paths[0].parent, paths[0].suffix)
    from mixrep.separation.apply import ApplySettings, separate_track

    loaded = bundle.separator()
    sep = bundle.settings.get("separation") or {}
    apply = ApplySettings.from_config(sep.get("inference"), int(bundle.settings.get("seed", 0)), device="cpu")
    return np.concatenate([separate_track(loaded.model, mix, apply) for _, mix in iter_chunks(info, 30.0)], axis=-1)


def transfer_file(source: str | Path, reference: str | Path, out_wav: str | Path, bundle: Bundle,
                  stems_dir: str | Path | None = None, overrides: dict[str, Any] | None = None,
                  embedding: str = "encoder") -> dict[str, Any]:
    """Write OUT.wav (the remix), OUT.params.json (per-stem chain in human units), OUT.distances.csv
    (before/after distances to the reference) and OUT.transfer/ (stems, curve) beside it."""
    import pandas as pd

    source, reference, out_wav = Path(source), Path(reference), Path(out_wav)
    stems_dir = None if stems_dir is None else Path(stems_dir)
    section = {**(bundle.settings.get("transfer") or {}), **(overrides or {})}
    settings = TransferSettings.from_config(section, int(bundle.settings.get("seed", 0)))
    if embedding == "encoder":
        embed = encoder_embed_fn(bundle.directory / "encoder.pt", "cpu", bundle.feature_settings)
    else:
        embed = feature_embed_fn()
    src, ref = track_stems(source, bundle, stems_dir), track_stems(reference, bundle, stems_dir)
    work = out_wav.with_name(out_wav.stem + ".transfer")
    result = transfer_pair(Pair(source.stem, reference.stem, "", ""), src, ref, embed, settings, work)
    out_wav.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(work / "mix.wav", out_wav)
    described = json.loads((work / "params.json").read_text())
    units = {spec.name: spec.unit or "1" for spec in STEM_PARAMS}
    human = {stem: {name: {"value": value, "unit": units[name]} for name, value in params.items()}
             for stem, params in described["physical"].items()}
    params = {"source": str(source), "reference": str(reference), "chain": human, "bypass": described["bypass"],
              "target_lufs": described["target_lufs"], "objective": described["objective"],
              "initial_objective": described["initial_objective"], "evaluations": described["evaluations"],
              "embedding": embedding}
    out_wav.with_suffix(".params.json").write_text(json.dumps(params, indent=1) + "\n")
    table = pd.DataFrame(result.rows)[["method", *METRICS]]
    table.to_csv(out_wav.with_suffix(".distances.csv"), index=False, float_format="%.6g")
    return {"params": params, "distances": table}
