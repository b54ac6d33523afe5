"""The feature table's columns: the ONE place that names them and gives their unit, family and sentinel.

Every feature column is `<family>.<target>.<name>` with family in `dynamics, spectral, stereo, masking`
(`mixrep.runs.FAMILIES`) and target one of the four stems (`mixrep.stems.STEMS`) or `mix` (the sum of the
stems). Columns are float32. The column set is fixed (it does not depend on the data or the settings), so
per-shard tables always concatenate and a model's input width is known before any audio is read.

Sentinels: a target whose RMS is at or below `features.silence_threshold_db` is not measured; its columns
hold `sentinel` (levels at FLOOR_DB, shape measures 0, masking 0) and `dynamics.<target>.active` is 0.
Every dB value is also floored at FLOOR_DB, so the table never holds -inf or NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

from mixrep.runs import FAMILIES
from mixrep.stems import STEMS

KEY_COLUMNS: tuple[str, ...] = ("track_id", "variant_id", "segment")
TARGETS: tuple[str, ...] = (*STEMS, "mix")
FLOOR_DB = -120.0

# Octave bands of the spectral family: centres 1000 * 2**k Hz, edges at centre * 2**(+-1/2); the lowest
# band reaches down to 20 Hz and the highest up to Nyquist. Names are the nominal centres.
BAND_CENTRES_HZ: tuple[float, ...] = tuple(1000.0 * 2.0 ** k for k in range(-4, 5))
BAND_NAMES: tuple[str, ...] = ("63", "125", "250", "500", "1k", "2k", "4k", "8k", "16k")
LOWEST_BAND_FROM_HZ = 20.0


@dataclass(frozen=True)
class ColumnSpec:
    """One feature column: where it sits, what it means, and the value it takes for a silent target."""

    family: str
    target: str
    feature: str
    unit: str
    description: str
    sentinel: float

    @property
    def name(self) -> str:
        return f"{self.family}.{self.target}.{self.feature}"


@dataclass(frozen=True)
class _Feature:
    feature: str
    unit: str
    description: str
    sentinel: float
    stems_only: bool = False
    mix_only: bool = False


def _band_features() -> list[_Feature]:
    levels = [_Feature(f"band{b}_db", "dBFS", f"energy of the {b} Hz octave band: mean over frames of "
                       "10 log10(eps + band power), eps = 1e-12 (|STFT|^2, both channels averaged; the seed's "
                       "e_k)", FLOOR_DB)
              for b in BAND_NAMES]
    deltas = [_Feature(f"band{b}_delta_db", "dB", f"band{b}_db of the stem minus that of the mix",
                       FLOOR_DB, stems_only=True) for b in BAND_NAMES]
    return levels + deltas


_FEATURES: dict[str, list[_Feature]] = {
    "dynamics": [
        _Feature("active", "flag", "1 when the RMS is above features.silence_threshold_db, else 0 "
                 "(then every column of this target holds its sentinel)", 0.0),
        _Feature("rms_db", "dBFS", "RMS over both channels (full-scale sine = -3.01)", FLOOR_DB),
        _Feature("peak_db", "dBFS", "sample peak over both channels", FLOOR_DB),
        _Feature("crest_db", "dB", "crest factor = peak_db - rms_db (full-scale sine = 3.01)", 0.0),
        _Feature("loudness_lufs", "LUFS", "ITU-R BS.1770-4 integrated loudness (K-weighting, 400 ms "
                 "blocks, absolute -70 LUFS and relative -10 LU gates)", FLOOR_DB),
        _Feature("rel_loudness_lu", "LU", "relative loudness = loudness_lufs(stem) - loudness_lufs(mix)",
                 FLOOR_DB, stems_only=True),
        _Feature("st_loudness_median_lufs", "LUFS", "median short-term loudness (3 s windows, 100 ms hop) "
                 "over windows above the -70 LUFS absolute gate", FLOOR_DB),
        _Feature("st_loudness_max_lufs", "LUFS", "maximum short-term loudness", FLOOR_DB),
        _Feature("dr_lu", "LU", "dynamic range: inter-quartile range of the gated short-term loudness", 0.0),
        _Feature("lra_lu", "LU", "EBU R128 loudness range (EBU Tech 3342: 10th-95th percentile of the "
                 "short-term loudness after -70 LUFS and -20 LU gates)", 0.0),
    ],
    "spectral": [
        *_band_features(),
        _Feature("low_high_db", "dB", "energy below features.low_high_split_hz over energy above it "
                 "(difference of their mean-over-frames log energies, as the bands)", 0.0),
        _Feature("tilt_db_per_oct", "dB/octave", "least-squares slope of the octave bands' energy density "
                 "(band energy / bandwidth) against log2(centre frequency): white noise 0, pink -3", 0.0),
        _Feature("flatness_db", "dB", "spectral flatness of the long-term power spectrum "
                 "(geometric / arithmetic mean over the bins from 20 Hz to Nyquist)", FLOOR_DB),
    ],
    "stereo": [
        _Feature("ild_db", "dB", "inter-channel level difference, energy of L over energy of R", 0.0),
        _Feature("correlation", "1", "L/R Pearson correlation cov(L,R)/(sigma_L sigma_R) (means removed): "
                 "1 dual mono, 0 independent, -1 polarity-inverted", 0.0),
        _Feature("mid_db", "dBFS", "mean square of M = (L+R)/2", FLOOR_DB),
        _Feature("side_db", "dBFS", "mean square of S = (L-R)/2", FLOOR_DB),
        _Feature("msr", "1", "mid/side ratio E_S / (E_M + eps): 0 for mono, 1 for uncorrelated equal "
                 "channels, large for out-of-phase content", 0.0),
    ],
    "masking": [
        _Feature("masking", "1", "M_i = sum w mu / sum w: mean logistic masking "
                 "mu = sigmoid((beta - Delta_i)/tau) weighted by w = a(t) b(k,t) A(k) (active frames, the "
                 "stem's own bands, A-weighting); 1 = buried under other stems, 0 = dominant", 0.0,
                 stems_only=True),
        _Feature("margin_db", "dB", "the same weighted mean of the dominance margin "
                 "Delta_i = S_i - max_{j != i} S_j (Mel-band levels), clipped to +-60 dB",
                 FLOOR_DB, stems_only=True),
        _Feature("mean", "1", "mean of masking.<stem>.masking over the active stems", 0.0, mix_only=True),
        _Feature("max", "1", "largest masking.<stem>.masking over the stems", 0.0, mix_only=True),
    ],
}


def column_specs() -> list[ColumnSpec]:
    """Every feature column, family-major (FAMILIES order), then target (stems, mix), then feature."""
    specs: list[ColumnSpec] = []
    for family in FAMILIES:
        for target in TARGETS:
            for item in _FEATURES[family]:
                if (item.stems_only and target == "mix") or (item.mix_only and target != "mix"):
                    continue
                specs.append(ColumnSpec(family, target, item.feature, item.unit, item.description,
                                        item.sentinel))
    return specs


def feature_columns() -> list[str]:
    """Names of all feature columns, in table order (without the key columns)."""
    return [spec.name for spec in column_specs()]


def family_columns(family: str | tuple[str, ...] | list[str]) -> list[str]:
    """Feature columns of one family (or several), in table order; e.g. for a `no_masking` ablation cell."""
    wanted = (family,) if isinstance(family, str) else tuple(family)
    unknown = [f for f in wanted if f not in FAMILIES]
    if unknown:
        raise ValueError(f"unknown feature families {unknown}; known: {list(FAMILIES)}")
    return [spec.name for spec in column_specs() if spec.family in wanted]


def sentinels() -> dict[str, float]:
    """Column name -> the value a silent (inactive) target takes."""
    return {spec.name: spec.sentinel for spec in column_specs()}


def markdown_table() -> str:
    """The column documentation as a Markdown table (docs/features.md holds its output).

    `<target>` is any of the four stems or `mix`, `<stem>` a stem only.
    """
    lines = ["| column pattern | unit | silent | definition |", "|---|---|---|---|"]
    seen: set[tuple[str, str]] = set()
    for spec in column_specs():
        key = (spec.family, spec.feature)
        if key in seen:
            continue
        seen.add(key)
        targets = [s.target for s in column_specs() if (s.family, s.feature) == key]
        scope = "<target>" if len(targets) == len(TARGETS) else ("<stem>" if "mix" not in targets else "mix")
        description = spec.description.replace("|", "\\|")
        lines.append(f"| `{spec.family}.{scope}.{spec.feature}` | {spec.unit} | {spec.sentinel:g} | "
                     f"{description} |")
    return "\n".join(lines)
