"""The SLURM profile, tested for real: a single-node SLURM runs the tiny config's DAG to completion.

The test starts munged, slurmctld and slurmd (Debian `slurm-wlm` + `munge`, installed with apt-get when
missing), all inside a private network namespace (`unshare -n`, loopback only: nothing can leave the machine),
submits the workflow through `workflow/profiles/slurm` unchanged, and stops the daemons it started by pid.
The test cluster mirrors the profile's assumptions: partitions `cpu` and `gpu`, one (declared, not real) GPU
as a generic resource, no accounting (hence `slurm-status-command: squeue`), `MinJobAge` 300 s.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scancel")
PROFILE = Path(__file__).resolve().parents[1] / "workflow" / "profiles" / "slurm" / "config.yaml"
# The chain asked of the cluster: corpus -> manifest (checkpoint) -> train_separator, separate (gpu partition,
# --gres=gpu:1) -> the per-shard CPU rules (one SLURM job each, no job groups) -> merge_features -> ratings. The whole tiny
# `all` (pretraining 3 encoders, transfer, ...) takes well over the 4 minutes budgeted for this test on 2 shared
# cores; every rule it adds is submitted the same way.
TARGETS: tuple[str, ...] = ("results/features.parquet", "results/ratings/ratings.parquet")
EXPECTED_RULES: frozenset[str] = frozenset({"rule_corpus", "rule_manifest", "rule_train_separator", "rule_separate",
                                            "rule_merge_features", "rule_ratings"})
SNAKEMAKE_TIMEOUT_S = 900
NODE_CORES, NODE_MEM_MB = 64, 512_000  # one node: no job may ask more (docs/cluster.md)

SLURM_CONF = """\
ClusterName=mixreptest
SlurmctldHost={host}(127.0.0.1)
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={run}/munge.socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation={run}/state
SlurmdSpoolDir={run}/spool
SlurmctldPidFile={run}/slurmctld.pid
SlurmdPidFile={run}/slurmd.pid
SlurmctldLogFile={run}/slurmctld.log
SlurmdLogFile={run}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
MinJobAge=300
ReturnToService=2
SlurmdParameters=config_overrides
GresTypes=gpu
NodeName={host} NodeAddr=127.0.0.1 CPUs=16 RealMemory=262144 Gres=gpu:1 State=UNKNOWN
PartitionName=cpu Nodes={host} Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes={host} MaxTime=INFINITE State=UP
"""

# Runs inside `unshare -n`: loopback up, daemons started with the config in their environment, the workflow
# submitted through the profile, daemons stopped by pid whatever happens.
DRIVER = r"""
set -u
RUN="$1"; shift
# Private mount namespace: our config is bind-mounted over /etc/slurm, the default path, because the jobstep
# executor strips SLURM_* variables (SLURM_CONF included) before its nested `srun`, which would then fall back
# to DNS SRV look-ups. Outside this namespace /etc/slurm is untouched.
mount --bind "$RUN" /etc/slurm || { echo "cannot bind-mount the config over /etc/slurm"; exit 89; }
export SLURM_CONF=/etc/slurm/slurm.conf
# Loopback only; slurm resolves with AI_ADDRCONFIG, which needs one non-loopback-scope address: put it on lo.
ip link set lo up
ip addr add 10.254.0.1/32 dev lo
stop() {
  for name in slurmd slurmctld munged; do
    if [ -s "$RUN/$name.pid" ]; then
      pid=$(cat "$RUN/$name.pid"); kill "$pid" 2>/dev/null
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null
    fi
  done
}
trap stop EXIT
munged --key-file="$RUN/munge.key" --socket="$RUN/munge.socket" --pid-file="$RUN/munged.pid" \
       --log-file="$RUN/munged.log" --seed-file="$RUN/munged.seed" --force || { echo "munged failed"; exit 90; }
slurmctld -i -f "$SLURM_CONF" || { echo "slurmctld failed"; cat "$RUN/slurmctld.log"; exit 91; }
slurmd -f "$SLURM_CONF" -N "$(cat "$RUN/nodename")" || { echo "slurmd failed"; cat "$RUN/slurmd.log"; exit 92; }
for _ in $(seq 100); do
  sinfo -h -o %T 2>/dev/null | grep -q idle && break; sleep 0.2
done
sinfo -h -o "%P %T %c %m %G" || { echo "cluster not up"; exit 93; }
"$@"
rc=$?
echo "snakemake exit status $rc"
squeue -h -o "%i %j %T" 2>/dev/null | head -20
exit $rc
"""


def _missing_tools() -> list[str]:
    return [tool for tool in DAEMONS if shutil.which(tool) is None]


def _ensure_slurm() -> None:
    """Skip with the reason where a single-node SLURM cannot be started here."""
    if os.geteuid() != 0:
        pytest.skip("starting slurmctld / slurmd / munged needs root")
    for tool in ("unshare", "ip"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not available (needed for the private network namespace)")
    if _missing_tools():
        if shutil.which("apt-get") is None:
            pytest.skip(f"SLURM tools {_missing_tools()} missing and no apt-get to install them")
        done = subprocess.run(["apt-get", "install", "-y", "-q", "slurm-wlm", "munge"], capture_output=True,
                              text=True, timeout=900, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        if done.returncode != 0 or _missing_tools():
            pytest.skip(f"could not install slurm-wlm / munge: {done.stderr.strip()[-300:]}")
    if not Path("/etc/slurm").is_dir():
        pytest.skip("/etc/slurm (created by slurm-wlm) is missing: nothing to bind-mount the test config over")
    probe = subprocess.run(["unshare", "-n", "-m", "mount", "--bind", "/tmp", "/etc/slurm"], capture_output=True,
                           text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot create private network + mount namespaces: {probe.stderr.strip()}")


def test_profile_declares_cluster_resources() -> None:
    """GPU rules ask for a GPU on the gpu partition, no job groups, every job fits one node, status uses squeue."""
    profile = yaml.safe_load(PROFILE.read_text())
    assert profile["executor"] == "slurm"
    assert profile["slurm-status-command"] == "squeue"
    for rule in ("separate", "train_separator", "pretrain", "embed", "transfer"):
        resources = profile["set-resources"][rule]
        assert resources["slurm_partition"] == "gpu" and resources["gres"].startswith("gpu:"), rule
    for rule in ("analyse",):
        assert profile["set-resources"][rule].get("gres") is None
        assert profile["set-threads"][rule] == 1
    # Group jobs were merged again when a run started after the manifest checkpoint (768 cores on one node).
    assert "groups" not in profile and "group-components" not in profile
    for rule, resources in profile["set-resources"].items():
        assert resources.get("mem_mb", 0) <= NODE_MEM_MB, rule
        gpus = int(resources.get("gres", "gpu:0").rsplit(":", 1)[-1])
        assert gpus <= 1, rule
    assert all(0 < threads <= NODE_CORES for threads in profile["set-threads"].values())
    assert profile["default-resources"]["slurm_partition"] == "cpu"


def test_tiny_workflow_runs_through_slurm(tmp_path: Path, repo_root: Path, tool_env: dict[str, str]) -> None:
    _ensure_slurm()
    run = tmp_path / "slurm"
    for sub in ("state", "spool"):
        (run / sub).mkdir(parents=True)
    host = socket.gethostname().split(".")[0]
    (run / "nodename").write_text(host)
    (run / "slurm.conf").write_text(SLURM_CONF.format(host=host, run=run))
    # A declared GPU (no device behind it: /dev/null) so that the profile's --gres=gpu:1 requests can be placed.
    (run / "gres.conf").write_text(f"NodeName={host} Name=gpu Count=1 File=/dev/null\n")
    key = run / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    (run / "driver.sh").write_text(DRIVER)
    workdir = tmp_path / "wd"
    snakemake = [str(Path(tool_env["PATH"].split(os.pathsep)[0]) / "snakemake"),
                 "-s", str(repo_root / "Snakefile"), "--directory", str(workdir),
                 "--configfile", str(repo_root / "tests" / "config.test.yaml"),
                 "--profile", str(repo_root / "workflow" / "profiles" / "slurm"),
                 "--jobs", "4", "--keep-going", "--slurm-keep-successful-logs", *TARGETS]
    env = {**tool_env, "OMP_NUM_THREADS": "1"}
    try:
        done = subprocess.run(["unshare", "-n", "-m", "bash", str(run / "driver.sh"), str(run), *snakemake],
                              capture_output=True, text=True, timeout=SNAKEMAKE_TIMEOUT_S, env=env)
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"the SLURM run took over {SNAKEMAKE_TIMEOUT_S} s:\n{(error.stdout or b'')[-3000:]!r}")
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{output[-6000:]}\n--- slurmctld.log\n{_tail(run / 'slurmctld.log')}"
    # Jobs really went through SLURM: the controller allocated them, on both partitions.
    controller = (run / "slurmctld.log").read_text()
    assert controller.count("sched: Allocate JobId") >= 3, controller[-2000:]
    assert "Partition=gpu" in controller, "no job was placed on the gpu partition"
    submitted = {p.name for p in (workdir / ".snakemake" / "slurm_logs").iterdir()}
    assert EXPECTED_RULES <= submitted, f"not submitted through SLURM: {sorted(EXPECTED_RULES - submitted)}"
    # No group jobs (they would log under group_<group>_<rules>): every per-shard CPU rule went as its own job.
    assert not any(name.startswith("group_") for name in submitted), f"group jobs in {sorted(submitted)}"
    assert submitted & {"rule_degrade", "rule_features", "rule_analyse"}, f"no per-shard CPU job in {sorted(submitted)}"
    for target in TARGETS:
        assert (workdir / target).is_file(), f"{target} was not made"
    # The driver stopped the daemons it started (by pid) when it finished.
    for name in ("slurmctld", "slurmd", "munged"):
        pid_file = run / f"{name}.pid"
        pid = int(pid_file.read_text().strip()) if pid_file.exists() and pid_file.read_text().strip() else 0
        assert pid == 0 or _gone(pid), f"{name} (pid {pid}) is still running"


def _tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else f"({path} missing)"


def _gone(pid: int) -> bool:
    """True when `pid` no longer runs (absent, or a zombie waiting for its parent)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except (OSError, IndexError):
        return True
