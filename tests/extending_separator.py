"""Adding a separator in a copy of the repository: its module and its registry line, nothing else.

`add_dummy(root)` writes `src/mixrep/separation/dummy.py` (every stem = the mixture times `gain`, 1/4 by default:
the evaluation's mixture/4 baseline as a separator; no checkpoint, no training; one setting of its own under
`separation.dummy`) and registers it in `src/mixrep/separation/separators.py`. `OVERLAY` enables it over
tests/config.test.yaml; `SMOKE` separates a few seconds of noise with it through the shard path of `mixrep
separate` (run with `PYTHONPATH=<root>/src`, cwd `<root>`). docs/EXTENDING.md walks through the same steps.
"""

from __future__ import annotations

from pathlib import Path

NAME = "dummy"

MODULE = '''"""A dummy separator: every stem is the mixture times `gain` (no model, no checkpoint, no training)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mixrep.separation.separator import SeparatorKind


@dataclass(frozen=True)
class DummySettings:
    """Settings of the dummy separator (config `separation.dummy`)."""

    gain: float = field(default=0.25, metadata={"help": "every stem = the mixture times this"})


def load(checkpoint: str | None, section: Mapping[str, Any]) -> DummySettings:
    from mixrep.schema import build_settings

    return build_settings(DummySettings, section.get("dummy"), "separation.dummy")


def open_track(loaded: DummySettings, settings: Any):
    import numpy as np

    from mixrep.separation.stream import pipeline_blocks, write_blocks

    def track(row: Any, stem_dir: Path, stem_format: str) -> int:
        blocks, _ = pipeline_blocks(row["path"])
        gain = np.float32(loaded.gain)
        return write_blocks((np.stack([block * gain] * 4) for block in blocks()), stem_dir, stem_format)

    return track


SEPARATOR = SeparatorKind(description="every stem = the mixture times separation.dummy.gain",
                          load=load, open=open_track, sections={"dummy": DummySettings})
'''

REGISTRY = "src/mixrep/separation/separators.py"
IMPORT = "from mixrep.separation import oracle, scnet_entry\n"
REGISTER_AFTER = 'SEPARATORS.register("oracle", oracle.SEPARATOR)\n'

OVERLAY = {"separation": {"method": NAME, "dummy": {"gain": 0.25}}}

SMOKE = '''
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from mixrep.audio import read_stems, write_audio
from mixrep.separation.apply import ApplySettings
from mixrep.separation.separate import separate_shard
from mixrep.separation.separators import SEPARATORS

kind = SEPARATORS.get("dummy")
assert not kind.checkpoint and kind.train is None
work = Path(tempfile.mkdtemp())
mix = np.random.default_rng(0).normal(0, 0.1, size=(2, 3 * 44100)).astype(np.float32)
write_audio(work / "mix.wav", mix)
manifest = pd.DataFrame([{"track_id": "noise", "path": str(work / "mix.wav"), "stems_dir": None, "split": "test"}])
loaded = kind.load(None, {"dummy": {"gain": 0.25}})
index = separate_shard(manifest, ["noise"], work / "stems", "dummy", loaded, ApplySettings(), "float32")
assert list(index["status"]) == ["ok"], index
stems = read_stems(work / "stems" / "noise")
assert stems.shape == (4, 2, mix.shape[1])
np.testing.assert_allclose(stems, np.stack([mix * np.float32(0.25)] * 4), rtol=0, atol=1e-7)
print("dummy separator ok:", stems.shape)
'''


def add_dummy(root: Path) -> list[Path]:
    """Write the dummy separator into the repository copy at `root`; return the files written or edited."""
    root = Path(root)
    module = root / "src" / "mixrep" / "separation" / f"{NAME}.py"
    module.write_text(MODULE)
    registry = root / REGISTRY
    text = registry.read_text()
    for line in (IMPORT, REGISTER_AFTER):
        if line not in text:
            raise ValueError(f"{registry}: no line {line.strip()!r} (the registry changed: update this script)")
    text = text.replace(IMPORT, IMPORT + f"from mixrep.separation import {NAME}\n", 1)
    text = text.replace(REGISTER_AFTER, REGISTER_AFTER + f'SEPARATORS.register("{NAME}", {NAME}.SEPARATOR)\n', 1)
    registry.write_text(text)
    return [module, registry]
