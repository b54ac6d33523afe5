"""docs/EXTENDING.md, proven: a dummy fault, feature family, conditioning mechanism and separator, each added to
a COPY of the repository as its own module plus one registry line (tests/extending_<axis>.py), and nothing else;
the copy then validates its config, plans the whole workflow (`snakemake -n`, the manifest checkpoint faked)
with every dummy enabled, and each dummy does its job for real (the axis' SMOKE snippet).
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from test_plan import fake_manifest

REPO = Path(__file__).resolve().parents[1]
AXES = ("fault", "family", "conditioning", "separator")
# what a new entry may touch besides its own new module: the one registry file of its axis
REGISTRY_FILES = {
    "fault": "src/mixrep/degrade/faults",
    "family": "src/mixrep/features/families.py",
    "conditioning": "src/mixrep/model/conditionings.py",
    "separator": "src/mixrep/separation/separators.py",
}


def _axis_module(axis: str) -> ModuleType:
    path = REPO / "tests" / f"extending_{axis}.py"
    spec = importlib.util.spec_from_file_location(f"extending_{axis}", path)
    assert spec and spec.loader, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _copy_repo(dst: Path) -> None:
    """The working tree as git sees it (tracked and untracked-not-ignored files): what a clone would hold."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, check=True,
                            capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            target = dst / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in over.items():
        out[key] = _merge(out.get(key, {}), value) if isinstance(value, dict) else copy.deepcopy(value)
    return out


@pytest.fixture(scope="module")
def extended(tmp_path_factory):
    """(root of the extended copy, {axis: files its add_dummy touched}, {axis: its module})."""
    root = tmp_path_factory.mktemp("extended") / "repo"
    _copy_repo(root)
    modules = {axis: _axis_module(axis) for axis in AXES}
    touched = {}
    for axis, module in modules.items():
        files = [Path(p) for p in module.add_dummy(root)]
        touched[axis] = sorted({(p if p.is_absolute() else root / p).resolve().relative_to(root.resolve())
                                .as_posix() for p in files})
    return root, touched, modules


def _env(root: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(root / "src"), OMP_NUM_THREADS="1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.mark.parametrize("axis", AXES)
def test_a_dummy_touches_only_its_own_module_and_its_registry_line(extended, axis):
    root, touched, _ = extended
    files = touched[axis]
    registry = REGISTRY_FILES[axis]
    code = [f for f in files if f.startswith("src/")]
    assert code, f"{axis}: add_dummy wrote no module"
    new = [f for f in code if not (REPO / f).exists()]
    edited = [f for f in code if (REPO / f).exists()]
    assert len(new) == 1, f"{axis}: expected one new module, got {new}"
    assert len(edited) <= 1 and all(f.startswith(registry) for f in edited), \
        f"{axis}: besides its module it may edit only its registry ({registry}), edited {edited}"
    assert not [f for f in files if f.startswith(("workflow/", "config.yaml", "Snakefile"))], files
    if edited:  # one registry entry: a small diff
        diff = subprocess.run(["git", "diff", "--no-index", "--numstat", str(REPO / edited[0]),
                               str(root / edited[0])], capture_output=True, text=True).stdout.split()
        added, removed = int(diff[0]), int(diff[1])
        assert removed == 0 and added <= 3, f"{axis}: the registry edit is {added} added / {removed} removed lines"


@pytest.mark.parametrize("axis", AXES)
def test_the_dummy_works_for_real(extended, axis):
    root, _, modules = extended
    done = subprocess.run([sys.executable, "-c", modules[axis].SMOKE], cwd=root, env=_env(root),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_extended_copy_validates_and_plans_with_every_dummy(extended, tmp_path):
    root, _, modules = extended
    overlay = {}
    for module in modules.values():
        overlay = _merge(overlay, module.OVERLAY)
    config = _merge(yaml.safe_load((root / "tests" / "config.test.yaml").read_text()), overlay)
    configfile = tmp_path / "extended.yaml"
    configfile.write_text(yaml.safe_dump(config))
    work = tmp_path / "work"
    fake_manifest(work, tracks=12, shard_size=8, seconds=4.0)
    done = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(root / "Snakefile"), "-d", str(work),
                           "-n", "-p", "--cores", "1", "--configfile", str(configfile)],
                          capture_output=True, text=True, env=_env(root), timeout=600)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    cells = [c for c in config["ablation"]["conditioning"] if "dummy" in c]
    assert cells and all(f"{c}-all" in out for c in cells), "the dummy conditioning's cell is not planned"
    assert "no_dummy" in out, "the dummy family's ablation cell is not planned"
    assert '"dummy"' in out, "the dummy fault / separator does not reach the rules' settings"
    # the unextended repository refuses the same config: the dummies are what made it valid
    refused = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(work),
                              "-n", "--cores", "1", "--configfile", str(configfile)],
                             capture_output=True, text=True, env=_env(REPO), timeout=600)
    assert refused.returncode != 0 and "dummy" in refused.stdout + refused.stderr


def test_the_extended_schema_lists_every_dummy(extended):
    root, _, _ = extended
    script = ("import json; from mixrep.config_schema import assembled_schema as a; "
              "print(json.dumps(a('workflow/schemas/config.schema.yaml')))")
    done = subprocess.run([sys.executable, "-c", script], cwd=root, env=_env(root), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    schema = json.loads(done.stdout)
    props = schema["properties"]
    assert "dummy" in props["degrade"]["properties"]["faults"]["items"]["enum"]
    assert "dummy" in props["ablation"]["properties"]["conditioning"]["items"]["enum"]
    assert "dummy" in props["separation"]["properties"]["method"]["enum"]
    assert "no_dummy" in props["ablation"]["properties"]["families"]["items"]["enum"]
