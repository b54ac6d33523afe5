"""Where and how wide torch work runs: runtime settings of a job, never experiment config.

Every CLI that runs torch takes the same two arguments, and every rule passes them from itself:
`--threads {threads} --device {resources.device}`, so a profile's `set-threads` / `set-resources` reach torch.
`--device auto` means CUDA when present, else the CPU. torch is imported only when a command configures it.
"""

from __future__ import annotations

import argparse
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

DEVICE_CHOICES = "auto, cpu, cuda or cuda:N"
_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def device_name(value: str) -> str:
    """argparse type of --device: auto, cpu, cuda or cuda:N."""
    if not _DEVICE.match(value):
        raise argparse.ArgumentTypeError(f"invalid device {value!r} (use {DEVICE_CHOICES})")
    return value


def thread_count(value: str) -> int:
    """argparse type of --threads: a positive integer."""
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(f"invalid thread count {value!r} (a positive integer)")
    return count


def add_runtime_arguments(parser: argparse.ArgumentParser, device: str | None = "auto") -> None:
    """--threads N (torch intra-op threads; the rule's {threads}) and --device (the rule's {resources.device}).

    `device=None`: a command that runs torch on the CPU only gets --threads alone.
    """
    parser.add_argument("--threads", type=thread_count, default=1,
                        help="torch intra-op threads (the rule passes its {threads}; default 1)")
    if device is None:
        return
    parser.add_argument("--device", type=device_name, default=device,
                        help=f"torch device: {DEVICE_CHOICES} (the rule passes {{resources.device}}; "
                             f"default {device})")


def configure_runtime(args: argparse.Namespace) -> torch.device:
    """Set torch's intra-op threads to args.threads and resolve args.device (cpu without --device)."""
    import torch

    torch.set_num_threads(max(1, int(args.threads)))
    return resolve_device(getattr(args, "device", "cpu"))


def resolve_device(name: str) -> torch.device:
    """`auto` -> cuda when available, else cpu; an explicit CUDA device without CUDA is a clear error."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for but CUDA is not available on this machine")
    return device
