"""Code versions for Snakemake params: editing a stage's source reruns that stage and what follows."""

from __future__ import annotations

import hashlib
from pathlib import Path

_PACKAGE_ROOT = Path(__file__).resolve().parent
_SHARED = ("__init__.py", "audio.py", "stems.py", "settings.py", "devices.py", "torchfiles.py")


def code_version(*parts: str) -> str:
    """A short hash of the named modules/packages of mixrep (relative to src/mixrep) and the shared core."""
    digest = hashlib.sha256()
    for part in (*_SHARED, *parts):
        path = _PACKAGE_ROOT / part
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            if file.exists():
                digest.update(str(file.relative_to(_PACKAGE_ROOT)).encode())
                digest.update(file.read_bytes())
    return digest.hexdigest()[:12]
