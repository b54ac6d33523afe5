"""Where torch work runs: `device: auto` in config means CUDA when present, else the CPU."""

from __future__ import annotations

import torch


def resolve_device(name: str) -> torch.device:
    """`auto` -> cuda when available, else cpu; an explicit CUDA device without CUDA is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for but CUDA is not available on this machine")
    return device
