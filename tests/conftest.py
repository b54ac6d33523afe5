"""Shared fixtures: where the repository, its reference data and the venv's tools are."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
REFERENCE_DIR = REPO_ROOT / "tests" / "reference"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """tests/reference: SCNet state-dict layouts and the tiny golden forward of the official code."""
    return REFERENCE_DIR


@pytest.fixture(scope="session")
def bin_dir() -> Path:
    """The folder holding this interpreter's console scripts (snakemake, mixrep)."""
    return Path(sys.executable).parent


@pytest.fixture
def tool_env(bin_dir: Path) -> dict[str, str]:
    """Environment for subprocesses: the venv's tools first on PATH, one thread each."""
    env = dict(os.environ)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("OMP_NUM_THREADS", "1")
    return env
