"""Loading mixrep's own self-describing torch files (encoder, regressor) with one set of clear errors.

Both are dicts with a `format` tag, read with `weights_only=True` (no arbitrary unpickling). Published SCNet
checkpoints have other layouts and their own loader (`mixrep.separation.checkpoint`).
"""

from __future__ import annotations

from pathlib import Path

import torch


def load_tagged(path: str | Path, fmt: str, what: str) -> dict:
    """The dict saved at `path` whose `format` is `fmt`; FileNotFoundError / ValueError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: {what} not found")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for a damaged file
        raise ValueError(f"{path}: not a readable torch checkpoint ({error})") from None
    if not isinstance(data, dict) or data.get("format") != fmt:
        raise ValueError(f"{path}: not a {what} (expected format {fmt!r})")
    return data
