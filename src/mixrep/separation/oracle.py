"""The oracle separator (registry entry `oracle`): the manifest's true stems, copied (no model, no checkpoint).

An upper bound of what separation can give, and the separator of runs that study the stems themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mixrep.separation.separator import SeparatorKind


def true_stems_dir(row: Any) -> str:
    """The folder of a manifest row's true stems; AudioError when it has none."""
    from mixrep.audio import AudioError

    stems_dir = row.get("stems_dir")
    if stems_dir is None or (isinstance(stems_dir, float) and np.isnan(stems_dir)):
        raise AudioError(row["path"], "oracle separation needs true stems, but stems_dir is null")
    return str(stems_dir)


def load(checkpoint: str | None, section: Mapping[str, Any]) -> None:
    return None


def open_track(loaded: None, settings: Any):
    from mixrep.separation.stream import copy_stems

    def track(row: Any, stem_dir: Path, stem_format: str) -> int:
        return copy_stems(true_stems_dir(row), stem_dir, stem_format)

    return track


SEPARATOR = SeparatorKind(description="the true stems of the manifest (stems_dir), copied",
                          load=load, open=open_track, true_stems=True)
