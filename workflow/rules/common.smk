# Shared by every stage: config validation, settings handed to the CLI, code versions, shards, runs,
# wildcard constraints and the final targets. No rule lives here.
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from snakemake.utils import validate

from mixrep.provenance import code_version
from mixrep.runs import grid, parse_run

validate(config, schema="../schemas/config.schema.yaml")

# The venv (or conda env) that runs Snakemake also provides the `mixrep` command to shell rules.
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])

RESULTS = "results"
MIXREP = "mixrep"  # the console entry point installed by `pip install -e .`


def get_settings(*sections):
    """Config sections a rule's CLI needs, as one JSON string (a params entry: changes rerun the rule)."""
    payload = {"seed": config["seed"], "shard_size": config["shard_size"]}
    payload.update({name: config[name] for name in sections})
    return json.dumps(payload, sort_keys=True)


def get_code_version(*parts):
    """Hash of the stage's source: put in params so that editing src/ reruns the stage."""
    return code_version(*parts)


# ---------------------------------------------------------------- runs (ablation cells)
RUNS = [spec.name for spec in grid(config["ablation"]["conditioning"], config["ablation"]["families"])]
SEEDS = [config["seed"] + k for k in range(config["ablation"]["repeats"])]
DEFAULT_RUN = config["ablation"]["default_run"]
ALL_RUN_NAMES = [spec.name for spec in grid()]

wildcard_constraints:
    shard=r"shard-\d\d\d+",
    run="|".join(ALL_RUN_NAMES),
    seed=r"\d+",


def get_run_seeds(wildcards):
    return SEEDS


# ---------------------------------------------------------------- shards (decided by the manifest checkpoint)
def get_shards():
    """Shard names written by the manifest checkpoint (re-evaluated once it has run)."""
    shards_json = checkpoints.manifest.get().output.shards
    with open(shards_json) as handle:
        return sorted(json.load(handle))


def expand_shards(pattern):
    """`pattern` formatted for every shard, e.g. expand_shards('results/features/{shard}.parquet')."""
    return [pattern.format(shard=shard) for shard in get_shards()]


# ---------------------------------------------------------------- final targets
def get_final_output():
    """Everything the paper reports (DESIGN.md): rule all."""
    targets = [
        f"{RESULTS}/manifest/manifest.parquet",
        f"{RESULTS}/separation/eval.json",
        f"{RESULTS}/features.parquet",
        f"{RESULTS}/ablation/summary.csv",
        f"{RESULTS}/transfer/summary.csv",
        f"{RESULTS}/mushra/package/configs/mixrep.yaml",
    ]
    targets += [f"{RESULTS}/tsne/{run}/metrics.json" for run in RUNS]
    if config["mushra"].get("results_csv"):
        targets.append(f"{RESULTS}/mushra/analysis/summary.json")
    return targets
