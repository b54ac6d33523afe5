"""Add a dummy degradation fault to a copy of the repository: one new module + its one registry line.

`add_dummy(root)` is what docs/EXTENDING.md ("A new fault") walks through; tests/test_extending.py calls it on a
temporary copy and checks that the workflow validates and plans with the fault enabled, e.g.

    degrade: {faults: [dummy, gain], dummy: {gain_db: [2.0, 4.0]}}

The dummy is a fixed-gain fault: a stem's level changed by a drawn number of dB (sign drawn too).
"""

from __future__ import annotations

from pathlib import Path

FAULTS_DIR = Path("src/mixrep/degrade/faults")
REGISTRY_MARK = "# new faults: register here, after the others\n"

DUMMY_MODULE = '''"""`dummy`: a stem's level changed by a drawn number of dB (an example fault, docs/EXTENDING.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from mixrep.degrade.effects import Effect, db_to_gain
from mixrep.degrade.faults.base import Fault
from mixrep.degrade.ranges import Range, magnitude_pair, signed


@dataclass(frozen=True)
class Dummy(Effect):
    """Fixed stem gain: multiply."""

    name: ClassVar[str] = "dummy"
    family: ClassVar[str] = "dynamics"
    gain_db: float = 0.0

    def apply(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        return (audio * np.float32(db_to_gain(self.gain_db))).astype(np.float32)


@dataclass(frozen=True)
class DummySettings:
    """the dummy fault's fixed gain"""

    gain_db: Range = magnitude_pair((1.0, 3.0), "gain magnitude in dB (sign random)")


def draw_dummy(rng: np.random.Generator, settings: DummySettings) -> Dummy:
    return Dummy(gain_db=signed(rng, settings.gain_db))


DUMMY = Fault(Dummy, DummySettings, "dummy", draw_dummy)
'''

REGISTRY_LINES = ('from mixrep.degrade.faults import dummy  # noqa: E402\n'
                  'FAULTS.register("dummy", dummy.DUMMY)\n')


#: config overlay that enables the dummy (tests/test_extending.py merges it into tests/config.test.yaml)
OVERLAY: dict = {"degrade": {"faults": ["gain", "dummy"], "dummy": {"gain_db": [2.0, 4.0]}}}

#: run in the extended copy (PYTHONPATH=<root>/src, cwd=<root>): the dummy is registered, in the schema patch
#: and the docs table, is drawn within its settings and changes the audio; non-zero exit if not
SMOKE = r'''
import numpy as np
from mixrep.degrade import FAULTS, DegradeSettings, render_variant, sample_recipe
from mixrep.degrade.faults import markdown_table, schema_patch
from mixrep.stems import STEMS

assert FAULTS.names()[-1] == "dummy", FAULTS.names()
patch = schema_patch()
assert "dummy" in patch.enums["degrade.faults"] and "degrade.dummy" in patch.sections
row = "| `dummy` | dynamics | `gain_db` | `dummy`: `gain_db` ±[1, 3] | `dummy.py`: Fixed stem gain: multiply |"
assert row in markdown_table()
config = DegradeSettings.from_config({"faults": ["dummy"], "max_faults": 1, "dummy": {"gain_db": [2.0, 4.0]}})
recipe = sample_recipe("t", 1, config, 0)
(spec,) = recipe.effects
assert spec.effect.name == "dummy" and 2.0 <= abs(spec.effect.gain_db) <= 4.0, spec
stems = np.ones((4, 2, 100), dtype=np.float32)
out = render_variant(stems, recipe.effects_json(), 44100)
index = STEMS.index(spec.stem)
assert np.allclose(out[index], 10 ** (spec.effect.gain_db / 20)), out[index, 0, :3]
print("ok")
'''


def add_dummy(root: Path) -> list[Path]:
    """Write the dummy fault into the repository copy at `root`; the files touched (module, registry)."""
    root = Path(root)
    module = root / FAULTS_DIR / "dummy.py"
    registry = root / FAULTS_DIR / "__init__.py"
    text = registry.read_text()
    if REGISTRY_MARK not in text:
        raise RuntimeError(f"{registry}: the line {REGISTRY_MARK.strip()!r} is missing")
    module.write_text(DUMMY_MODULE)
    registry.write_text(text.replace(REGISTRY_MARK, REGISTRY_MARK + REGISTRY_LINES))
    return [module, registry]
