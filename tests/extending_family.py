"""Add a dummy feature family to a copy of the repository: what docs/EXTENDING.md asks of a newcomer.

`add_dummy(root)` writes `src/mixrep/features/dummy.py` (its columns, its compute function, its settings
dataclass) and the one registry line in `src/mixrep/features/families.py`, and returns the files it touched.
Nothing else is edited: the feature table's columns, the extractor, the `no_dummy` family set of the ablation
grid and the schema section `features.dummy` all follow from the registry.
"""

from __future__ import annotations

from pathlib import Path

MODULE = '''"""Dummy family: the sample peak of every target, plus a configurable offset (tests/extending_family.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from mixrep.features.columns import FLOOR_DB, Feature
from mixrep.features.spectral import to_db

if TYPE_CHECKING:
    from mixrep.features.analysis import Analysis


@dataclass(frozen=True)
class DummySettings:
    """Settings of the dummy feature family (config `features.dummy`)."""

    offset_db: float = field(default=0.0, metadata={"help": "added to every peak (dB)"})


SETTINGS = DummySettings
FEATURES: tuple[Feature, ...] = (
    Feature("peak_db", "dBFS", "sample peak over both channels, plus features.dummy.offset_db", FLOOR_DB),
)


def compute(analysis: Analysis, settings: DummySettings) -> dict[str, dict[str, float]]:
    """target -> its peak level."""
    return {target: {"peak_db": float(to_db(float(np.max(np.abs(x))) ** 2)) + settings.offset_db}
            for target, x in analysis.signals.items()}
'''

ANCHOR = 'FAMILIES.register("masking", family_module(masking))\n'
IMPORT = "from mixrep.features import dynamics, masking, spectral, stereo\n"


def add_dummy(root: Path) -> list[Path]:
    """Write the dummy family into the repository copy at `root`; the files touched."""
    root = Path(root)
    module = root / "src/mixrep/features/dummy.py"
    module.write_text(MODULE)
    registry = root / "src/mixrep/features/families.py"
    text = registry.read_text()
    if ANCHOR not in text or IMPORT not in text:
        raise RuntimeError(f"{registry}: the masking registration or the family imports moved; update {__file__}")
    text = text.replace(IMPORT, IMPORT + "from mixrep.features import dummy\n")
    text = text.replace(ANCHOR, ANCHOR + 'FAMILIES.register("dummy", family_module(dummy))\n')
    registry.write_text(text)
    return [module, registry]

#: config overlay (merged over tests/config.test.yaml) that puts the dummy to use: its ablation cell and a
#: non-default value of its own settings section
OVERLAY: dict = {"ablation": {"families": ["all", "no_dummy"]}, "features": {"dummy": {"offset_db": 1.0}}}

#: run in the extended copy (PYTHONPATH=<root>/src, cwd=<root>): the dummy's columns are in the table and
#: extracting noise stems gives finite values for them that follow its settings; non-zero exit if not
SMOKE = r'''
import numpy as np
from mixrep import runs
from mixrep.features import extract_features, family_columns, feature_columns
from mixrep.features.columns import TARGETS

expected = [f"dummy.{t}.peak_db" for t in TARGETS]
assert family_columns("dummy") == expected == feature_columns()[-len(TARGETS):], family_columns("dummy")
assert runs.parse_run("film-no_dummy").families == ("dynamics", "spectral", "stereo", "masking")
stems = (0.1 * np.random.default_rng(0).standard_normal((4, 2, 44100))).astype(np.float32)
plain = extract_features(stems, 44100)
shifted = extract_features(stems, 44100, {"dummy": {"offset_db": 1.0}})
values = np.array([plain[c] for c in expected])
assert np.isfinite(values).all() and (values > -120).all(), values
assert abs(plain["dummy.mix.peak_db"] - plain["dynamics.mix.peak_db"]) < 1e-4
assert abs(shifted["dummy.mix.peak_db"] - plain["dummy.mix.peak_db"] - 1.0) < 1e-4
print("dummy family ok:", dict(zip(expected, values.round(2).tolist())))
'''
