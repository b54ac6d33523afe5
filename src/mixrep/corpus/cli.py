"""`mixrep corpus`: generate the synthetic multitrack corpus (rule `corpus`)."""

from __future__ import annotations

import argparse
import logging
import sys

from mixrep.corpus.generate import CorpusConfig, CorpusError, generate_corpus
from mixrep.corpus.render import RenderError
from mixrep.settings import add_settings_argument, load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mixrep corpus", description=__doc__)
    parser.add_argument("--out", required=True, help="corpus folder (results/corpus): tracks/ and metadata.parquet")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (the rule passes its threads)")
    add_settings_argument(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    settings = load_settings(args.settings)
    try:
        config = CorpusConfig.from_settings(settings.get("synthetic", {}))
        report = generate_corpus(args.out, config, seed=int(settings.get("seed", 0)), jobs=max(1, args.jobs))
    except (ValueError, RenderError, CorpusError) as exc:
        print(f"mixrep corpus: {exc}", file=sys.stderr)
        return 2
    meta = report.metadata
    print(f"wrote {len(meta)} tracks ({len(config.genres)} genres x {config.tracks_per_genre}, "
          f"{config.seconds:g} s) to {args.out} in {report.wall_s:.1f} s with {args.jobs} process(es): "
          f"{report.speed_x_realtime:.1f}x real time")
    print(meta.groupby("genre")[["integrated_lufs", "crest_db", "has_vocals"]].mean().round(2).to_string())
    for track_id, reason in report.failures.items():
        print(f"FAILED {track_id}: {reason}", file=sys.stderr)
    return 0
