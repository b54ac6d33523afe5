"""A ready-to-serve webMUSHRA experiment: stimuli, `configs/mixrep.yaml` and a per-stimulus table.

One MUSHRA page (item) per transferred source track. Stimuli of an item: the hidden reference (the original
mix), the unprocessed source (its stems summed), the style-transferred mix, degraded remixes of graded severity
(recipes picked at severity quantiles, rendered with `mixrep.degrade.render_variant`) and the two BS.1534-3
anchors (rendered here, `anchors`). Every stimulus of an item is cut from the same window, faded, and
loudness-aligned (BS.1770 integrated loudness, `mixrep.signal.loudness`) to one level chosen so that no
stimulus peaks above the ceiling.

`stimuli.parquet` records each stimulus (trial, condition, path, loudness, and the quality the Stage 2
regressor predicts from its embedding) so that the analysis can join listeners' scores with the model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mixrep.audio import load_audio, read_audio, write_audio
from mixrep.mushra import webyaml
from mixrep.mushra.anchors import ANCHORS_HZ, make_anchor
from mixrep.signal.excerpt import excerpt_bounds, excerpt_samples
from mixrep.signal.loudness import integrated_lufs
from mixrep.stems import SAMPLE_RATE, track_dirname

CONFIG_NAME = "mixrep.yaml"
STRICT_MAX_S = 12.0  # webMUSHRA's strict mode checks BS.1534 limits; longer excerpts need strict: false
REFERENCE = "reference"


@dataclass(frozen=True)
class PackageSettings:
    """Config section `mushra` (the packaging keys)."""

    test_id: str = "mixrep"
    test_name: str = "mixrep: basic audio quality of remixes"
    excerpt_s: float = 10.0
    fade_ms: float = 20.0
    loudness_lufs: float = -23.0
    peak_ceiling_dbfs: float = -1.0
    degraded_levels: int = 3
    items_per_group: int = 4
    show_waveform: bool = False
    enable_looping: bool = True
    wav_subtype: str = "PCM_24"

    @classmethod
    def from_config(cls, section: dict[str, Any]) -> "PackageSettings":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in section.items() if k in known})


@dataclass
class Stimulus:
    """One condition of one item, before alignment: the mix and the stems it came from (for the encoder)."""

    condition: str
    mix: np.ndarray  # (2, N)
    stems: np.ndarray | None  # (4, 2, N) or None
    variant_id: int | None = None
    severity: float | None = None
    notes: list[str] = field(default_factory=list)


def pick_by_severity(recipes: pd.DataFrame, levels: int) -> pd.DataFrame:
    """`levels` degraded variants (variant_id > 0) at severity quantiles (k + 1) / (levels + 1), mildest first."""
    pool = recipes[recipes["variant_id"] > 0].sort_values(["severity", "variant_id"]).reset_index(drop=True)
    if pool.empty or levels <= 0:
        return pool.iloc[0:0]
    positions = []
    for k in range(levels):
        pos = int(round((k + 1) / (levels + 1) * (len(pool) - 1)))
        while pos in positions and pos + 1 < len(pool):
            pos += 1
        if pos not in positions:
            positions.append(pos)
    return pool.iloc[sorted(positions)].reset_index(drop=True)


def fade(audio: np.ndarray, fade_ms: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Raised-cosine fade in and out (clicks at loop points are an artefact listeners would rate)."""
    n = min(int(fade_ms * 1e-3 * sample_rate), audio.shape[-1] // 2)
    if n <= 0:
        return audio
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0.0, math.pi, n))
    out = np.array(audio, dtype=np.float64, copy=True)
    out[..., :n] *= ramp
    out[..., -n:] *= ramp[::-1]
    return out.astype(np.float32)


def align_loudness(mixes: Sequence[np.ndarray], target_lufs: float, ceiling_dbfs: float,
                   sample_rate: int = SAMPLE_RATE) -> tuple[list[float], float]:
    """Gains (dB) bringing every mix to one loudness; the level is lowered until no peak exceeds the ceiling.

    Returns the gains and the common level reached. A silent mix gets 0 dB (and is reported by the caller).
    """
    levels = [integrated_lufs(m, sample_rate) for m in mixes]
    peaks = [20.0 * math.log10(float(np.max(np.abs(m))) + 1e-12) for m in mixes]
    target = target_lufs
    finite = [(lvl, pk) for lvl, pk in zip(levels, peaks) if math.isfinite(lvl)]
    if finite:
        excess = max(pk + (target - lvl) for lvl, pk in finite) - ceiling_dbfs
        if excess > 0:
            target -= excess
    gains = [target - lvl if math.isfinite(lvl) else 0.0 for lvl in levels]
    return gains, target


def build_item(reference: np.ndarray, source_stems: np.ndarray, transfer_stems: np.ndarray,
               degraded: Sequence[tuple[int, float, np.ndarray]], settings: PackageSettings,
               sample_rate: int = SAMPLE_RATE) -> list[Stimulus]:
    """All stimuli of one item, cut to the same centred window and faded (not yet loudness-aligned).

    Args:
        reference: the original mix (2, N0).
        source_stems / transfer_stems: (4, 2, N) stems; degraded: (variant_id, severity, stems) triples.
    """
    n = min(reference.shape[-1], source_stems.shape[-1], transfer_stems.shape[-1],
            *(stems.shape[-1] for _, _, stems in degraded))
    cut = slice(*excerpt_bounds(n, excerpt_samples(settings.excerpt_s, sample_rate)))

    def prep(audio: np.ndarray) -> np.ndarray:
        return fade(np.asarray(audio, dtype=np.float32)[..., cut], settings.fade_ms, sample_rate)

    ref = prep(reference)
    src = prep(source_stems)
    items = [Stimulus(REFERENCE, ref, src, notes=["stems: the source stems (the reference has none)"]),
             Stimulus("source", src.sum(axis=0), src), Stimulus("transfer", prep(transfer_stems).sum(axis=0),
                                                                  prep(transfer_stems))]
    for level, (variant_id, severity, stems) in enumerate(degraded, start=1):
        d = prep(stems)
        items.append(Stimulus(f"degraded_{level}", d.sum(axis=0), d, int(variant_id), float(severity)))
    for name in ANCHORS_HZ:
        items.append(Stimulus(name, make_anchor(ref, name, sample_rate), make_anchor(src, name, sample_rate),
                              notes=["stems: the low-passed source stems"]))
    return items


def mushra_page(trial_id: str, title: str, reference: str, stimuli: dict[str, str],
                settings: PackageSettings) -> dict[str, Any]:
    """One webMUSHRA `mushra` page (our anchors are ordinary stimuli: createAnchor35/70 are false)."""
    return {
        "type": "mushra", "id": trial_id, "name": title,
        "content": "Rate the basic audio quality of each condition against the reference. Any difference "
                   "from the reference counts as an impairment; one condition is the hidden reference.",
        "showWaveform": settings.show_waveform, "enableLooping": settings.enable_looping,
        "strict": settings.excerpt_s <= STRICT_MAX_S,
        "reference": reference, "createAnchor35": False, "createAnchor70": False,
        "randomize": True, "showConditionNames": False, "stimuli": stimuli,
    }


def experiment_config(pages: list[dict[str, Any]], settings: PackageSettings) -> dict[str, Any]:
    """The webMUSHRA YAML: welcome page, mushra pages in `random` groups, finish page with a questionnaire."""
    groups = [pages[i:i + settings.items_per_group] for i in range(0, len(pages), settings.items_per_group)]
    welcome = {"type": "generic", "id": "welcome", "name": "Welcome",
               "content": "This test asks you to rate the quality of remixes of short music excerpts. On each "
                          "page, listen to the reference and to every condition (headphones, a quiet room), then "
                          "rate each condition from 0 (bad) to 100 (excellent) against the reference."}
    finish = {"type": "finish", "name": "Thank you", "content": "Thank you for taking part.",
              "popupContent": "Your ratings were saved.", "showResults": False, "writeResults": True,
              "questionnaire": [
                  {"type": "text", "label": "Name or alias", "name": "alias"},
                  {"type": "number", "label": "Age", "name": "age", "min": 0, "max": 100, "default": 30},
                  {"type": "likert", "name": "experience", "label": "Audio mixing experience",
                   "response": [{"value": "none", "label": "None"}, {"value": "hobby", "label": "Hobbyist"},
                                {"value": "professional", "label": "Professional"}]},
              ]}
    return {"testname": settings.test_name, "testId": settings.test_id, "bufferSize": 2048,
            "stopOnErrors": True, "showButtonPreviousPage": True, "remoteService": "service/write.php",
            "pages": [welcome, *(["random", *group] for group in groups), finish]}


Predictor = Callable[[np.ndarray], np.ndarray]  # stems (B, 4, 2, N) -> predicted quality (B,)


def write_item(out_dir: Path, item: str, trial_id: str, stimuli: list[Stimulus], settings: PackageSettings,
               predict: Predictor | None, extra: dict[str, Any] | None = None,
               sample_rate: int = SAMPLE_RATE) -> tuple[dict[str, Any], list[dict]]:
    """Align, write the WAVs of one item (under stimuli/<item>/); return its mushra page and stimulus records."""
    gains, level = align_loudness([s.mix for s in stimuli], settings.loudness_lufs, settings.peak_ceiling_dbfs,
                                  sample_rate)
    folder = Path("stimuli") / track_dirname(item)
    records, paths = [], {}
    scaled_stems = []
    for stim, gain_db in zip(stimuli, gains):
        scale = 10.0 ** (gain_db / 20.0)
        rel = folder / f"{stim.condition}.wav"
        write_audio(out_dir / rel, stim.mix * scale, sample_rate, subtype=settings.wav_subtype)
        written, _ = read_audio(out_dir / rel)
        paths[stim.condition] = rel.as_posix()
        scaled_stems.append(None if stim.stems is None else stim.stems * scale)
        records.append({"test_id": settings.test_id, "trial_id": trial_id, "item": item, **(extra or {}),
                        "stimulus": stim.condition, "condition": stim.condition, "path": rel.as_posix(),
                        "variant_id": stim.variant_id, "severity": stim.severity, "gain_db": gain_db,
                        "lufs": integrated_lufs(written, sample_rate), "target_lufs": level,
                        "peak_dbfs": 20.0 * math.log10(float(np.max(np.abs(written))) + 1e-12),
                        "samples": written.shape[-1], "channels": written.shape[0], "notes": "; ".join(stim.notes)})
    if predict is not None and all(s is not None for s in scaled_stems):
        scores = np.asarray(predict(np.stack(scaled_stems)), dtype=np.float64).reshape(-1)
        for record, score in zip(records, scores):
            record["predicted_quality"] = float(score)
    else:
        for record in records:
            record["predicted_quality"] = float("nan")
    stimuli_map = {c: p for c, p in paths.items() if c != REFERENCE}
    page = mushra_page(trial_id, f"Item {item}", paths[REFERENCE], stimuli_map, settings)
    return page, records


def write_package(out_dir: str | Path, pages: list[dict[str, Any]], records: list[dict[str, Any]],
                  settings: PackageSettings) -> Path:
    """configs/mixrep.yaml, stimuli.parquet and a README naming what to drop in."""
    out_dir = Path(out_dir)
    config_path = out_dir / "configs" / CONFIG_NAME
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(webyaml.dumps(experiment_config(pages, settings)), encoding="utf-8")
    pd.DataFrame(records).to_parquet(out_dir / "stimuli.parquet", index=False)
    (out_dir / "README.md").write_text(README.format(test_id=settings.test_id, config=CONFIG_NAME))
    return config_path


README = """# webMUSHRA experiment `{test_id}` (written by `mixrep mushra-package`)

This folder holds the experiment only: `configs/{config}` and `stimuli/`. The webMUSHRA app itself
(https://github.com/audiolabs/webMUSHRA, master at commit 07130f2 or later: the 1.4.3 release zip predates the
session uuid) is not shipped with mixrep. To run the test, copy the app's index.html, startup.js, lib/,
design/ and favicon.ico into this folder (keep `configs/` and `stimuli/`), then

    mixrep serve-mushra <this folder> --port 8000
    open http://127.0.0.1:8000/?config={config}

Ratings are stored in `results/{test_id}/mushra.csv` (webMUSHRA's layout); analyse them with
`mixrep mushra-analysis` (set `mushra.results_csv` in the config to make it part of the workflow).
"""


def load_reference(path: str | Path) -> np.ndarray:
    """The original mix in the pipeline format."""
    audio, _ = load_audio(path)
    return audio
