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
