# Shared by every stage: config validation, settings handed to the CLI, code versions, shards, runs,
# wildcard constraints and the final targets. No rule lives here.
import json
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from mixrep import workflow_config
from mixrep.provenance import code_version
from mixrep.runs import CONDITIONINGS, POSITIVES, grid, parse_run
from mixrep.separation import separators

# Schema (with its defaults filled in) and cross-field checks; a mistake ends here in one line
# `config error: <key>: <value>: <what is allowed>` (src/mixrep/workflow_config.py).
workflow_config.check_or_stop(config, Path(workflow.basedir) / "workflow/schemas/config.schema.yaml")

# The venv that runs Snakemake also provides the `mixrep` command to shell rules, activated or not
# (under --use-conda the rule's environment is activated on top and its own `mixrep` comes first).
envvars:
    "PATH",


os.environ.update(PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))

RESULTS = "results"


def get_settings(*sections):
    """Config sections a rule's CLI needs, as one JSON string (a params entry: changes rerun the rule)."""
    payload = {"seed": config["seed"], "shard_size": config["shard_size"]}
    payload.update({name: config[name] for name in sections})
    return json.dumps(payload, sort_keys=True)


def get_code_version(*modules):
    """Hash of the rule's command's source (its entry module, e.g. "mixrep.analyse.cli", and every mixrep module
    it imports, mixrep.provenance): put in params so that editing any of them reruns the rule."""
    return code_version(*modules)


# ---------------------------------------------------------------- runs (ablation cells)
# Cells and controls (docs/evaluation.md): mixrep.workflow_config.GridSources, which `mixrep plan` counts too.
GRID = workflow_config.grid_sources(config)
RUNS = list(GRID.runs)
SEEDS = list(GRID.seeds)
DEFAULT_RUN = config["ablation"]["default_run"]
ALL_RUN_NAMES = [spec.name for spec in grid(positives=POSITIVES)]
# embedded per seed (random-init) or once (features-only, levels: no weights), each conditioned cell with its
# features zeroed (<cell>.audio-only), and two quality-only predictors
EMBED_CONTROLS = list(workflow_config.EMBED_CONTROLS)
QUALITY_CONTROLS = list(workflow_config.QUALITY_CONTROLS)
EMBEDDED_SOURCES = list(GRID.embedded)
SOURCES = list(GRID.sources)
# every source a target may name (cells of any config, their audio-only twins, the controls)
ALL_GRID = workflow_config.GridSources(tuple(ALL_RUN_NAMES), GRID.seeds)
ALL_EMBEDDED_SOURCES = list(ALL_GRID.embedded)
ALL_SOURCES = list(ALL_GRID.sources)

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
        f"{RESULTS}/manifest/manifest.parquet", f"{RESULTS}/plan/plan.txt",
        f"{RESULTS}/separation/eval.json",
        f"{RESULTS}/features.parquet",
        f"{RESULTS}/ablation/summary.csv",
        f"{RESULTS}/crossed/summary.csv",
        f"{RESULTS}/transfer/summary.csv",
        f"{RESULTS}/mushra/package/configs/mixrep.yaml",
        f"{RESULTS}/bundle/manifest.json",
    ]
    targets += [f"{RESULTS}/tsne/{run}/metrics.json" for run in RUNS]
    if config["mushra"].get("results_csv"):
        targets.append(f"{RESULTS}/mushra/analysis/summary.json")
    return targets


# ---------------------------------------------------------------- corpus (input functions of corpus.smk)
def corpus_soundfont(wildcards):
    """The configured soundfont (synthetic.soundfont), so that swapping its file rerenders the corpus."""
    return workflow_config.external_inputs(config, "soundfont")


def corpus_out_dir(wildcards, output):
    """The corpus folder: metadata.parquet and tracks/ sit in it."""
    return str(Path(output.metadata).parent)


# ---------------------------------------------------------------- manifest (input functions of manifest.smk)
def manifest_corpus(wildcards):
    """The corpus metadata for the synthetic source; nothing otherwise (the data root is outside the DAG)."""
    if config["dataset"]["source"] == "synthetic":
        return [f"{RESULTS}/corpus/metadata.parquet"]
    return []


def manifest_metadata(wildcards):
    """The dataset's metadata files the manifest reads (genre CSV, FMA's tracks.csv / genres.csv): editing one reruns it.

    The audio under dataset.root is not listed (thousands of files); rerun the manifest by hand after adding audio.
    """
    return workflow_config.external_inputs(config, "genre_csv", "fma_tracks", "fma_genres")


# ---------------------------------------------------------------- features (input functions of features.smk;
# the per-shard tables are written by analyse.smk)
def features_shard_tables(wildcards):
    """Every shard's features table (known once the manifest checkpoint has run)."""
    return expand_shards(f"{RESULTS}/features/{{shard}}.parquet")


# ---------------------------------------------------------------- pretrain (input functions of pretrain.smk)
def pretrain_mels(wildcards):
    """Every shard's mel store (known once the manifest checkpoint has run)."""
    return expand_shards(f"{RESULTS}/mels/{{shard}}.npz")


def pretrain_segments(wildcards):
    """Every shard's per-segment features (the conditioning of each encoder view)."""
    return expand_shards(f"{RESULTS}/features/segments/{{shard}}.parquet")


# ---------------------------------------------------------------- evaluation (input functions of evaluation.smk)
def ratings_recipes(wildcards):
    """Every shard's recipes for the simulated listening test; none for real ratings."""
    if config["ratings"]["source"] == "synthetic":
        return expand_shards(f"{RESULTS}/variants/{{shard}}/recipes.parquet")
    return []


def ratings_csv(wildcards):
    """The real ratings table (csv source) as an input, so that editing it reruns the stage."""
    return workflow_config.external_inputs(config, "ratings_csv")


def evaluation_embeddings(run):
    return [f"{RESULTS}/embed/{run}/seed{seed}.parquet" for seed in SEEDS]


def regress_embeddings(wildcards):
    return evaluation_embeddings(wildcards.run)


def regress_random_embeddings(wildcards):
    return evaluation_embeddings("random-init")


def regress_none_embeddings(wildcards):
    """Baseline (c): the `none` cell with the same positives (nothing for that cell itself)."""
    none_run = parse_run(wildcards.run).none_twin
    return [] if none_run == wildcards.run else evaluation_embeddings(none_run)


def source_embeddings(source):
    """The embedding tables a source is evaluated on: one per seed, or the one of a seed-free control."""
    if source in QUALITY_CONTROLS:
        return []
    if source in EMBED_CONTROLS:
        return [f"{RESULTS}/embed/{source}/seed{SEEDS[0]}.parquet"]
    return evaluation_embeddings(source)


def evaluate_embeddings(wildcards):
    return source_embeddings(wildcards.source)


def evaluate_views(wildcards):
    return [path.removesuffix(".parquet") + ".views.parquet" for path in source_embeddings(wildcards.source)]


def summary_units(wildcards):
    return [f"{RESULTS}/evaluate/{source}/units.parquet" for source in SOURCES]


def crossed_metadata(wildcards):
    """The corpus metadata (content / style labels of the crossed set); none for real data sources."""
    return [f"{RESULTS}/corpus/metadata.parquet"] if config["dataset"]["source"] == "synthetic" else []


def crossed_metrics(wildcards):
    return [f"{RESULTS}/crossed/{source}/metrics.json" for source in EMBEDDED_SOURCES]


def evaluation_recipes(wildcards):
    return expand_shards(f"{RESULTS}/variants/{{shard}}/recipes.parquet")


def transfer_stems(wildcards):
    """Every shard's stems index (known once the manifest checkpoint has run)."""
    return expand_shards(f"{RESULTS}/stems/{{shard}}/index.parquet")


def transfer_out_dir(wildcards, output):
    """The per-pair folders sit beside summary.csv."""
    return os.path.dirname(output.summary)


# ---------------------------------------------------------------- mushra (input functions of mushra.smk)
def mushra_stems(wildcards):
    """Every shard's stems index (known once the manifest checkpoint has run)."""
    return expand_shards(f"{RESULTS}/stems/{{shard}}/index.parquet")


def mushra_recipes(wildcards):
    """Every shard's degradation recipes."""
    return expand_shards(f"{RESULTS}/variants/{{shard}}/recipes.parquet")


def mushra_results_csv(wildcards):
    """The webMUSHRA results file named in the config (`mushra.results_csv`)."""
    return workflow_config.external_inputs(config, "mushra_results")


def mushra_package_settings(wildcards):
    """Settings of the package without the analysis keys, so that adding results does not rebuild the stimuli."""
    settings = json.loads(get_settings("mushra", "features"))
    settings["mushra"] = {k: v for k, v in settings["mushra"].items() if k not in MUSHRA_ANALYSIS_KEYS}
    return json.dumps(settings, sort_keys=True)


def mushra_package_dir(wildcards, output):
    """The package folder: two levels above configs/mixrep.yaml."""
    return os.path.dirname(os.path.dirname(output.config))


def mushra_analysis_dir(wildcards, output):
    return os.path.dirname(output.summary)


# ---------------------------------------------------------------- separation (input functions of separation.smk)
# where rule train_separator writes the weights of a separator that is trained here
SEPARATOR_DIR = f"{RESULTS}/separation/{config['separation']['method']}"


def separation_checkpoint(wildcards):
    """The weights the separate / bundle rules read: configured, trained here, or none (e.g. the oracle)."""
    if not separators.reads_checkpoint(config["separation"]):
        return []
    return workflow_config.external_inputs(config, "checkpoint") or [f"{SEPARATOR_DIR}/checkpoint.th"]


def separation_stem_indexes(wildcards):
    """Index tables of every shard (after the manifest checkpoint has decided the shards)."""
    return expand_shards(f"{RESULTS}/stems/{{shard}}/index.parquet")


# ---------------------------------------------------------------- unknown cells (input function of cells.smk)
def unknown_cell(wildcards):
    """A target of a cell that does not exist: stop while the DAG is built, listing the valid cells."""
    target = f"{RESULTS}/{wildcards.stage}/{wildcards.cell}/{wildcards.rest}"
    workflow_config.stop_unknown_cell(target, wildcards.cell, RUNS)
