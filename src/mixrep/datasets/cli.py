"""`mixrep manifest`: list, probe and decode every input file once; write manifest, shards and summary."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mixrep.datasets.manifest import DatasetSettings, build_manifest, list_candidates, summarize, write_manifest
from mixrep.datasets.records import DatasetError
from mixrep.errors import EXIT_BAD_INPUT, EXIT_NO_RESULT
from mixrep.settings import add_settings_argument, load_settings, write_json


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mixrep manifest", description=__doc__)
    parser.add_argument("corpus_metadata", nargs="?", default=None,
                        help="results/corpus/metadata.parquet (source synthetic only; its tracks/ sit beside it)")
    parser.add_argument("--manifest", required=True, help="output manifest.parquet")
    parser.add_argument("--shards", required=True, help="output shards.json (shard name -> track ids)")
    parser.add_argument("--summary", required=True, help="output summary.txt (also printed)")
    parser.add_argument("--jobs", type=int, default=1, help="processes that decode files in parallel")
    add_settings_argument(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = DatasetSettings.from_config(load_settings(args.settings))
        candidates = list_candidates(settings, args.corpus_metadata or None)
        table, shards = build_manifest(candidates, settings, jobs=max(1, args.jobs))
    except (DatasetError, ValueError) as exc:
        print(f"mixrep manifest: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    summary = summarize(table, shards, settings)
    write_manifest(table, args.manifest)
    write_json(args.shards, shards)
    Path(args.summary).parent.mkdir(parents=True, exist_ok=True)
    Path(args.summary).write_text(summary)
    print(summary, end="")
    if not shards:
        print("mixrep manifest: no usable track; see the reasons above", file=sys.stderr)
        return EXIT_NO_RESULT
    return 0
