"""Settings handed from the workflow to a stage's CLI.

Rules pass the config sections a stage needs as one JSON string (`--settings`), so that a change to a
section reruns exactly the rules that read it (Snakemake's params trigger) and nothing is read from globals.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml

from mixrep.errors import InputError


def load_settings(value: str | None) -> dict[str, Any]:
    """Parse `--settings`: a JSON object, or a path to a JSON/YAML file holding one."""
    if not value:
        return {}
    text = value.strip()
    if not text.startswith("{"):
        path = Path(text)
        if not path.exists():
            raise InputError("--settings", f"{text!r} is neither a JSON object nor an existing file")
        try:
            data = yaml.safe_load(path.read_text())
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise InputError(path, f"cannot read the settings ({' '.join(str(exc).split())})") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError("--settings", f"not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InputError("--settings", "must hold a mapping of config sections")
    return data


def add_settings_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--settings", default=None,
                        help="config sections as a JSON object (or a JSON/YAML file); see config.yaml")


def write_json(path: str | Path, data: Any) -> Path:
    """Write JSON with sorted keys (stable bytes for identical content)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=_to_builtin) + "\n")
    return path


def _to_builtin(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
