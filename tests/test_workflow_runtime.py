"""Runtime settings reach torch: a profile's set-threads / set-resources arrive in the commands' --threads and
--device (issue 16, item 3), and config.yaml holds no runtime key."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

from test_plan import fake_manifest

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "config.test.yaml"

PROFILE = {
    "cores": 4,
    "set-threads": {"transfer": 3, "pretrain": 3, "embed_random": 2, "analyse": 2, "regress": 3},
    "set-resources": {"transfer": {"device": "cuda:1"}, "pretrain": {"device": "cpu"}},
}


def planned_commands(workdir: Path, profile: Path, env: dict[str, str]) -> dict[str, list[str]]:
    """`snakemake -n -p` with the profile: the shell command of every planned job, by mixrep subcommand."""
    done = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir),
                           "-n", "-p", "--profile", str(profile), "--configfile", str(TINY)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    commands: dict[str, list[str]] = {}
    for line in (done.stdout + done.stderr).splitlines():
        match = re.match(r"(?:Shell command: )?\s*mixrep ([a-z-]+) (.*)", line)
        if match:
            commands.setdefault(match.group(1), []).append(match.group(2))
    return commands


def test_profile_threads_and_device_reach_the_commands(tmp_path, tool_env):
    fake_manifest(tmp_path / "work", tracks=9, shard_size=8, seconds=4.0)
    profile = tmp_path / "profile"
    profile.mkdir()
    (profile / "config.yaml").write_text(yaml.safe_dump(PROFILE))
    commands = planned_commands(tmp_path / "work", profile, {**tool_env, "OMP_NUM_THREADS": "1"})

    def flags(command: str) -> tuple[str, str | None]:
        threads = re.search(r"--threads (\S+)", command)
        device = re.search(r"--device (\S+)", command)
        assert threads, command
        return threads.group(1), device.group(1) if device else None

    assert {flags(c) for c in commands["transfer"]} == {("3", "cuda:1")}
    assert {flags(c) for c in commands["pretrain"]} == {("3", "cpu")}
    assert {flags(c) for c in commands["analyse"]} == {("2", None)}
    assert {flags(c) for c in commands["regress"]} == {("3", None)}
    assert {flags(c) for c in commands["mushra-package"]} == {("1", "cpu")}  # the rule's own defaults
    embed = {flags(c) for c in commands["embed"]}
    assert ("2", "auto") in embed and ("1", "auto") in embed  # embed_random's profile threads; the others' own


def test_config_yaml_holds_no_runtime_setting():
    """Threads and devices are runtime settings: they live in the profiles and the rules' resources."""
    def keys(node, prefix=""):
        if isinstance(node, dict):
            for key, value in node.items():
                yield f"{prefix}{key}"
                yield from keys(value, f"{prefix}{key}.")

    for path in (REPO / "config.yaml", TINY):
        found = [k for k in keys(yaml.safe_load(path.read_text()))
                 if k.rsplit(".", 1)[-1] in ("device", "threads", "torch_threads")]
        assert not found, (path, found)
    from mixrep.config_schema import assembled_schema

    def schema_keys(node, prefix=""):
        for key, sub in (node.get("properties") or {}).items():
            yield f"{prefix}{key}"
            yield from schema_keys(sub, f"{prefix}{key}.")

    schema = assembled_schema(REPO / "workflow" / "schemas" / "config.schema.yaml")
    assert not [k for k in schema_keys(schema) if k.rsplit(".", 1)[-1] in ("device", "threads", "torch_threads")]
