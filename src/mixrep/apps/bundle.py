"""The model bundle: everything `analyze`, `compare` and `transfer-file` need, in one folder with a manifest.

Layout of `results/bundle/` (docs/analyze.md):
- `separator.th`: the SCNet checkpoint (mixrep's self-describing layout, or the published one with its kwargs
  in settings.json);
- `encoder.pt`: the encoder of `ablation.default_run`, seed = config seed;
- `regressor.pt`: the Stage 2 MLP of that cell (`mixrep.evaluation.load_regressor`);
- `references.parquet`: variant 0 of every track: `track_id, genre, split, embedding` and every feature column
  (the median over the track's feature segments);
- `norms.json`: per genre and feature column: median, q25, q75, IQR, n; plus the mean/std of every column over
  all references (`feature_stats`, which scale the feature-based distance) and the regressor's test-set
  residual quantiles (`residuals`, the prediction interval);
- `settings.json`: run, seed, the `features` and `separation` settings, `transfer` settings, code versions;
- `manifest.json`: every other file with its sha256 and size (`verify_bundle`).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mixrep.errors import InputError
from mixrep.features.columns import column_specs
from mixrep.tables import read_table

UNITS = {spec.name: spec.unit for spec in column_specs()}

FORMAT = "mixrep.bundle/1"
MANIFEST = "manifest.json"
FILES = ("separator.th", "encoder.pt", "regressor.pt", "references.parquet", "norms.json", "settings.json")
RESIDUAL_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
KEY = ("track_id", "variant_id", "segment")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def residual_quantiles(predictions: pd.DataFrame, seed: int) -> dict[str, Any]:
    """Quantiles of score - predicted of the cell's MLP on the test songs (the encoder seed's member)."""
    rows = predictions[(predictions["model"] == "mlp") & (predictions["split"] == "test")]
    if (rows["seed"] == seed).any():
        rows = rows[rows["seed"] == seed]
    residual = (rows["score"] - rows["predicted"]).to_numpy(np.float64)
    if residual.size == 0:
        raise InputError(None, "predictions table holds no test-split row of model 'mlp': no prediction interval")
    return {"n": int(residual.size), "split": "test", "seed": int(seed),
            "quantiles": {f"{q:g}": float(np.quantile(residual, q)) for q in RESIDUAL_QUANTILES},
            "rmse": float(np.sqrt(np.mean(residual ** 2)))}


def reference_table(embeddings: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """Variant 0 of every track: its embedding, genre, split and per-column median over its feature segments."""
    emb = embeddings[embeddings["variant_id"] == 0][["track_id", "genre", "split", "embedding"]]
    columns = [c for c in features.columns if c not in KEY]
    feats = (features[features["variant_id"] == 0].groupby("track_id", sort=True)[columns].median().reset_index())
    table = emb.merge(feats, on="track_id", how="inner").sort_values("track_id").reset_index(drop=True)
    if table.empty:
        raise InputError(None, "no track has both a variant-0 embedding and variant-0 features")
    table["embedding"] = [np.asarray(z, dtype=np.float32) for z in table["embedding"]]
    return table


def style_norms(references: pd.DataFrame) -> dict[str, Any]:
    """Per genre and column: median, quartiles, IQR, n; and the mean/std of every column over all references."""
    columns = [c for c in references.columns if c not in ("track_id", "genre", "split", "embedding")]
    genres: dict[str, Any] = {}
    for genre, part in references.groupby("genre", sort=True):
        values = part[columns].to_numpy(np.float64)
        q25, q50, q75 = np.quantile(values, [0.25, 0.5, 0.75], axis=0)
        genres[str(genre)] = {"n": int(len(part)), "columns": {
            c: {"median": float(m), "q25": float(a), "q75": float(b), "iqr": float(b - a)}
            for c, a, m, b in zip(columns, q25, q50, q75)}}
    values = references[columns].to_numpy(np.float64)
    std = np.maximum(values.std(axis=0), [std_floor(UNITS.get(c, "1")) for c in columns])
    return {"genres": genres, "feature_stats": {
        c: {"mean": float(m), "std": float(s)} for c, m, s in zip(columns, values.mean(axis=0), std)}}


def std_floor(unit: str) -> float:
    """Smallest std a column is scaled by: with few reference mixes a column can be all but constant, and
    dividing by its tiny spread would let measurement noise dominate the feature distance."""
    return 1.0 if unit in ("dB", "dBFS", "LU", "LUFS", "dB/octave") else 0.01


def build_bundle(out_dir: str | Path, *, separator: str | Path | None, encoder: str | Path, regressor: str | Path,
                 predictions: str | Path, embeddings: str | Path, features: str | Path,
                 settings: dict[str, Any], code_versions: dict[str, str] | None = None) -> Path:
    """Copy the artifacts, derive references / norms / residuals, and write the manifest last."""
    from mixrep.evaluation.mlp import load_regressor

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.iterdir():  # a rebuilt bundle holds exactly what the manifest lists
        if stale.is_file():
            stale.unlink()
        else:
            shutil.rmtree(stale)
    copies = [("encoder.pt", encoder), ("regressor.pt", regressor)]
    if separator:  # a run on oracle stems has no separator: analyze then needs --stems
        copies.insert(0, ("separator.th", separator))
    for name, source in copies:
        if not Path(source).is_file():
            raise InputError(source, "no such file")
        shutil.copyfile(source, out / name)
    model = load_regressor(out / "regressor.pt")
    refs = reference_table(read_table(embeddings, "embeddings"), read_table(features, "features"))
    dim = int(len(refs["embedding"].iloc[0]))
    if model.members[model.default_seed].in_dim != dim:
        raise InputError(regressor, f"expects embeddings of size {model.members[model.default_seed].in_dim}, "
                                    f"the reference embeddings have {dim}")
    stored = refs.assign(embedding=[z.tolist() for z in refs["embedding"]])
    stored.to_parquet(out / "references.parquet", index=False)
    norms = style_norms(refs)
    norms["residuals"] = residual_quantiles(read_table(predictions, "predictions"), model.default_seed)
    norms["regressor_info"] = model.info
    _write_json(out / "norms.json", norms)
    _write_json(out / "settings.json", {"format": FORMAT, **settings, "code_versions": dict(code_versions or {})})
    write_manifest(out)
    return out


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=True, default=str) + "\n")


def write_manifest(directory: Path) -> Path:
    files = sorted(p for p in directory.rglob("*") if p.is_file() and p.name != MANIFEST)
    entries = {p.relative_to(directory).as_posix(): {"sha256": sha256(p), "bytes": p.stat().st_size} for p in files}
    _write_json(directory / MANIFEST, {"format": FORMAT, "files": entries})
    return directory / MANIFEST


def verify_bundle(directory: str | Path) -> list[str]:
    """One line per problem: a missing, extra or changed file (empty list: the bundle is intact)."""
    directory = Path(directory)
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        return [f"{manifest_path}: missing (not a mixrep bundle, or never finished)"]
    try:
        manifest = json.loads(manifest_path.read_text())
        entries = manifest["files"]
    except (ValueError, KeyError, TypeError) as exc:
        return [f"{manifest_path}: unreadable manifest ({exc.__class__.__name__}: {exc})"]
    problems = []
    present = {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file() and p.name != MANIFEST}
    for name in sorted(entries):
        path = directory / name
        if name not in present:
            problems.append(f"{path}: missing")
        elif path.stat().st_size != entries[name]["bytes"] or sha256(path) != entries[name]["sha256"]:
            problems.append(f"{path}: changed (sha256 differs from the manifest)")
    problems += [f"{directory / name}: extra (not in the manifest)" for name in sorted(present - set(entries))]
    return problems


@dataclass
class Bundle:
    """A loaded bundle. The separator is loaded only when a command needs it (`--stems` does not)."""

    directory: Path
    settings: dict[str, Any]
    norms: dict[str, Any]
    references: pd.DataFrame
    encoder: Any
    regressor: Any
    _separator: Any = field(default=None, repr=False)

    @property
    def feature_settings(self) -> dict[str, Any]:
        return dict(self.settings.get("features") or {})

    @property
    def reference_matrix(self) -> np.ndarray:
        return np.stack([np.asarray(z, dtype=np.float64) for z in self.references["embedding"]])

    def separator(self):
        from mixrep.separation.checkpoint import load_separator

        if not (self.directory / "separator.th").is_file():
            raise InputError(self.directory, "this bundle holds no separator (its run used oracle stems): "
                                             "give the stems with --stems DIR")
        if self._separator is None:
            sep = self.settings.get("separation") or {}
            self._separator = load_separator(self.directory / "separator.th", sep.get("checkpoint_model"))
        return self._separator

    def embed(self, stems: np.ndarray) -> np.ndarray:
        """z (D,) of one (4, 2, N) stem stack; a conditioned encoder gets each window's own features, as in
        training and in the workflow's `embed` (`EncoderBundle.embed_stems_by_window`)."""
        z = self.encoder.embed_stems_by_window(stems[None], self.feature_settings)
        return np.asarray(z, dtype=np.float64)[0]


def load_bundle(directory: str | Path, verify: bool = True) -> Bundle:
    """Read a bundle; with `verify` a missing or changed file stops here (InputError naming it)."""
    from mixrep.evaluation.mlp import load_regressor
    from mixrep.pretrain import load_encoder

    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(directory, "no such bundle folder (build it with `snakemake results/bundle/manifest.json`)")
    if verify:
        problems = verify_bundle(directory)
        if problems:
            raise InputError(None, f"bundle {directory} failed verification: {problems[0]}"
                                   + (f" (+{len(problems) - 1} more; run `mixrep bundle verify {directory}`)"
                                      if len(problems) > 1 else ""))
    settings = json.loads((directory / "settings.json").read_text())
    norms = json.loads((directory / "norms.json").read_text())
    references = read_table(directory / "references.parquet", "bundle references")
    encoder = load_encoder(directory / "encoder.pt", "cpu")
    regressor = load_regressor(directory / "regressor.pt")
    return Bundle(directory, settings, norms, references, encoder, regressor)
