"""No signal code outside mixrep.signal: one loudness meter, one Mel filterbank, one pan law, one excerpt.

A grep over src/mixrep (comments and docstrings included: a pattern there is as suspicious as in code, and
none of these spellings is needed to describe a use). Add a pattern when a new shared signal function lands.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "mixrep"
PATTERNS = {
    "a second loudness meter (use mixrep.signal.loudness)": r"\bMeter\(|pyloudnorm|IIRfilter|_DeMan\b",
    "a second K-weighting (use mixrep.signal.loudness.k_weight)": r"1681\.97|38\.135",
    "a second Mel filterbank (use mixrep.signal.mel)": r"MelSpectrogram\(|melscale_fbanks|np\.log\(6\.4\)|2595\.0",
    "a second pan law (use mixrep.signal.stereo.pan_gains)": r"pi\s*/\s*4",
    "a second centred excerpt (use mixrep.signal.excerpt)": r"start\s*=\s*\([^)]*-[^)]*\)\s*//\s*2",
}


def _hits(pattern: str) -> list[str]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if path.is_relative_to(SRC / "signal"):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(pattern, line):
                found.append(f"{path.relative_to(SRC.parent)}:{number}: {line.strip()}")
    return found


@pytest.mark.parametrize("what", sorted(PATTERNS))
def test_no_signal_code_outside_the_signal_core(what: str) -> None:
    hits = _hits(PATTERNS[what])
    assert not hits, f"{what}:\n" + "\n".join(hits)


def test_the_patterns_find_the_core_itself() -> None:
    core = "\n".join(p.read_text() for p in (SRC / "signal").glob("*.py"))
    for what in ("a second loudness meter (use mixrep.signal.loudness)",
                 "a second Mel filterbank (use mixrep.signal.mel)", "a second pan law (use mixrep.signal.stereo.pan_gains)",
                 "a second centred excerpt (use mixrep.signal.excerpt)"):
        assert re.search(PATTERNS[what], core), what
