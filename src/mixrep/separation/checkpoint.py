"""Saving and loading SCNet weights.

Three layouts are read:
- mixrep's own checkpoint (written by `save_checkpoint`): it describes itself (class name, constructor
  kwargs, sources order, state), so it rebuilds its model without the config that trained it (Demucs habit).
  The weights sit under `best_state`, like the official solver's, so the official tools read it too.
- the published layout: a dict with `best_state` (and usually `state`, `optimizer`, ...), the parameter
  names possibly prefixed by `module.` (saved from a DataParallel / accelerate wrapper);
- a plain state dict.
For the last two the constructor kwargs must be given (a preset name or a dict).
Every failure raises `CheckpointError` naming the file and the first problem.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from mixrep.separation.scnet import PRESETS, SCNet

FORMAT = "mixrep.scnet/1"


class CheckpointError(Exception):
    """A checkpoint that cannot be used, with the file and the reason."""

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


@dataclass
class LoadedSeparator:
    """A model ready for inference and where it came from."""

    model: SCNet
    kwargs: dict
    sources: list[str]
    layout: str  # "mixrep" | "published" | "state_dict"
    info: dict = field(default_factory=dict)


def save_checkpoint(path: str | Path, model: SCNet, kwargs: dict, info: dict | None = None) -> Path:
    """Write a self-describing checkpoint (class, kwargs, sources, weights, training info)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    package = {
        "format": FORMAT,
        "class": type(model).__name__,
        "kwargs": dict(kwargs),
        "sources": list(model.sources),
        "best_state": {name: value.detach().cpu().clone() for name, value in model.state_dict().items()},
        "info": dict(info or {}),
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(package, tmp)
    tmp.replace(path)  # never leave a half-written checkpoint under the final name
    return path


def read_package(path: str | Path) -> Any:
    """torch.load with the failure modes turned into CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "no such file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Unsupported global" in str(exc):
            raise CheckpointError(path, "holds Python objects beyond tensors and containers; refusing to "
                                        "unpickle them (re-save the state dict alone)") from None
        raise CheckpointError(path, f"not a torch checkpoint or truncated ({_first_line(exc)})") from None
    except Exception as exc:  # a damaged zip/pickle surfaces as many types (KeyError, RuntimeError, EOFError...)
        raise CheckpointError(path, f"not a torch checkpoint or truncated ({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{exc.__class__.__name__}: {text.splitlines()[0] if text else 'no detail'}"


def extract_state(path: str | Path, package: Any) -> tuple[dict[str, torch.Tensor], str]:
    """The state dict inside a package and the layout it came in; strips a `module.` prefix."""
    if not isinstance(package, dict):
        raise CheckpointError(path, f"expected a dict (checkpoint or state dict), found {type(package).__name__}")
    if package.get("format") == FORMAT:
        state, layout = package["best_state"], "mixrep"
    elif "best_state" in package:
        state, layout = package["best_state"], "published"
        if state is None:
            raise CheckpointError(path, "'best_state' is empty (the run never finished a validation epoch)")
    elif "state" in package and isinstance(package["state"], dict):
        state, layout = package["state"], "published"
    else:
        state, layout = package, "state_dict"
    if not isinstance(state, dict) or not state:
        raise CheckpointError(path, "holds no state dict")
    bad = next((name for name, value in state.items() if not isinstance(value, torch.Tensor)), None)
    if bad is not None:
        raise CheckpointError(path, f"entry {bad!r} is not a tensor: not a state dict")
    if all(name.startswith("module.") for name in state):
        state = {name[len("module."):]: value for name, value in state.items()}
    return state, layout


def first_mismatch(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> str | None:
    """Description of the first key (sorted) where `state` and the model disagree, or None."""
    expected = model.state_dict()
    for name in sorted(set(expected) | set(state)):
        if name not in state:
            return f"first mismatching key {name!r}: missing from the checkpoint"
        if name not in expected:
            return f"first mismatching key {name!r}: unexpected (the model has no such parameter)"
        if tuple(state[name].shape) != tuple(expected[name].shape):
            return (f"first mismatching key {name!r}: shape {tuple(state[name].shape)} in the checkpoint, "
                    f"{tuple(expected[name].shape)} in the model")
    return None


def resolve_kwargs(model_kwargs: dict | str | None) -> dict | None:
    if isinstance(model_kwargs, str):
        if model_kwargs not in PRESETS:
            raise ValueError(f"unknown SCNet preset {model_kwargs!r}; expected one of {sorted(PRESETS)}")
        return dict(PRESETS[model_kwargs])
    return None if model_kwargs is None else dict(model_kwargs)


def load_separator(path: str | Path, model_kwargs: dict | str | None = None) -> LoadedSeparator:
    """Rebuild an SCNet from a checkpoint in any of the accepted layouts (eval mode, on CPU).

    `model_kwargs` (kwargs dict or preset name) is required for published / plain layouts and ignored
    for mixrep's own checkpoints, which carry theirs.
    """
    package = read_package(path)
    state, layout = extract_state(path, package)
    if layout == "mixrep":
        if package.get("class") != "SCNet":
            raise CheckpointError(path, f"checkpoint of class {package.get('class')!r}, expected 'SCNet'")
        kwargs, info = dict(package["kwargs"]), dict(package.get("info", {}))
    else:
        kwargs, info = resolve_kwargs(model_kwargs), {}
        if kwargs is None:
            raise CheckpointError(path, f"{layout} layout carries no model description: give the SCNet "
                                        "constructor kwargs (separation.checkpoint_model: small | large | model)")
    try:
        model = SCNet(**kwargs)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(path, f"cannot build SCNet from {kwargs}: {exc}") from None
    problem = first_mismatch(model, state)
    if problem is not None:
        raise CheckpointError(path, f"state dict does not fit SCNet(dims={kwargs.get('dims')}, "
                                    f"band_SR={kwargs.get('band_SR')}): {problem}")
    model.load_state_dict(state, strict=True)
    model.eval()
    return LoadedSeparator(model, kwargs, list(model.sources), layout, info)
