"""The `mixrep` command: one subcommand per workflow stage.

Each subcommand lives in its stage's module as a `main(argv) -> int` function; only the module of the
command asked for is imported, so `mixrep manifest` does not pay for importing torch.
"""

from __future__ import annotations

import importlib
import logging
import sys
import traceback

from mixrep.errors import EXIT_BAD_INPUT, one_line

#: every command logs in this one format, to stderr (Snakemake's `log:` files)
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# command -> (module, function, one-line help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "corpus": ("mixrep.corpus.cli", "main", "generate the synthetic multitrack corpus"),
    "manifest": ("mixrep.datasets.cli", "main", "probe every input file and write manifest + shards"),
    "plan": ("mixrep.plan", "main", "jobs, disk, memory and CPU/GPU-hours of a config, before the heavy stages"),
    "train-separator": ("mixrep.separation.cli", "train_main", "train the separator (SCNet) on the corpus stems"),
    "separate": ("mixrep.separation.cli", "separate_main", "separate one shard into four stems"),
    "eval-separation": ("mixrep.separation.cli", "eval_main", "SDR / SI-SDR of separators on the test split"),
    "analyse": ("mixrep.analyse.cli", "main", "one pass over a shard: recipes, features, segment features, Mels"),
    "degrade": ("mixrep.degrade.cli", "main", "draw and render degraded remixes of one shard"),
    "features": ("mixrep.features.cli", "main", "structured mixing features of one shard"),
    "merge-features": ("mixrep.features.cli", "merge_main", "merge per-shard feature tables"),
    "mels": ("mixrep.pretrain.cli", "mels_main", "log-Mel inputs of every track x variant of one shard"),
    "pretrain": ("mixrep.pretrain.cli", "pretrain_main", "contrastive pretraining of one ablation cell"),
    "embed": ("mixrep.pretrain.cli", "embed_main", "embeddings of every track x variant for one cell"),
    "ratings": ("mixrep.ratings.cli", "main", "build the rated-mix table (simulated or from CSV)"),
    "regress": ("mixrep.evaluation.cli", "regress_main", "Stage 2 mix-quality regression of one cell"),
    "tsne": ("mixrep.evaluation.cli", "tsne_main", "t-SNE and cluster metrics of one cell"),
    "ablation-summary": ("mixrep.evaluation.cli", "ablation_main", "the grid vs none and the controls, paired"),
    "readme-tables": ("mixrep.evaluation.cli", "readme_main", "README's generated result blocks"),
    "evaluate": ("mixrep.evaluation.cli", "evaluate_main", "every metric of one source, per seed (units)"),
    "crossed-summary": ("mixrep.evaluation.cli", "crossed_summary_main", "crossed set metrics of every source"),
    "transfer": ("mixrep.transfer.cli", "main", "stem-aware mix-style transfer (ST-ITO)"),
    "bundle": ("mixrep.apps.cli", "bundle_main", "build or verify the model bundle (results/bundle)"),
    "analyze": ("mixrep.apps.cli", "analyze_main", "analyse your own mixes with the bundle (JSON + HTML)"),
    "compare": ("mixrep.apps.cli", "compare_main", "embedding and feature differences of two mixes"),
    "transfer-file": ("mixrep.apps.cli", "transfer_file_main", "remix your own file towards a reference (ST-ITO)"),
    "mushra-package": ("mixrep.mushra.cli", "package_main", "webMUSHRA experiment folder"),
    "mushra-analysis": ("mixrep.mushra.cli", "analysis_main", "analyse webMUSHRA results"),
    "serve-mushra": ("mixrep.mushra.cli", "serve_main", "serve a webMUSHRA folder on localhost"),
}


def _usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = ["usage: mixrep [--debug] <command> [options]   (mixrep <command> --help for its options)",
             "", "Bad input ends in one line `mixrep <command>: <file>: <problem>` and exit 2;",
             "--debug also prints the traceback.", "", "commands:"]
    lines += [f"  {name:<{width}}  {help_}" for name, (_, _, help_) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [arg for arg in argv if arg != "--debug"]
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    if argv[0] == "--version":
        from mixrep import __version__

        print(__version__)
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"mixrep: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return EXIT_BAD_INPUT
    module_name, function_name, _ = COMMANDS[name]
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, stream=sys.stderr)
    try:
        function = getattr(importlib.import_module(module_name), function_name)
        return int(function(rest) or 0)
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):  # argparse's --help (0) and usage errors (2)
            return 0 if exc.code is None else exc.code
        return _report(name, exc, debug)
    except BaseException as exc:  # the one place that turns any escape into one line
        return _report(name, exc, debug)


def _report(command: str, exc: BaseException, debug: bool) -> int:
    message, code = one_line(command, exc)
    if debug:
        traceback.print_exception(exc)
    print(message, file=sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
