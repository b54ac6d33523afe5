"""`mixrep corpus`: generate the synthetic multitrack corpus (rule `corpus`)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from mixrep.corpus.generate import CorpusSettings, CorpusError, generate_corpus
from mixrep.corpus.render import RenderError
from mixrep.errors import EXIT_BAD_INPUT, InputError
from mixrep.settings import add_settings_argument, load_settings


def writable_folder(out: str) -> Path:
    """`--out` as a folder this process can write, made if needed; else an InputError naming `out` itself.

    Checked before any track is rendered, so that a typo in the path costs no rendering time and the message
    names the path the user gave (not the first file that happened to fail under it).
    """
    path = Path(out)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise InputError(out, "exists and is not a folder") from None
    except NotADirectoryError:
        raise InputError(out, "cannot create the folder: a parent is a file") from None
    except OSError as exc:
        raise InputError(out, f"cannot create the folder ({exc.strerror or exc.__class__.__name__})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise InputError(out, "folder is not writable")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mixrep corpus", description=__doc__)
    parser.add_argument("--out", required=True, help="corpus folder (results/corpus): tracks/ and metadata.parquet")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (the rule passes its threads)")
    add_settings_argument(parser)
    args = parser.parse_args(argv)
    settings = load_settings(args.settings)
    writable_folder(args.out)
    try:
        config = CorpusSettings.from_config(settings.get("synthetic", {}))
        report = generate_corpus(args.out, config, seed=int(settings.get("seed", 0)), jobs=max(1, args.jobs))
    except (ValueError, RenderError, CorpusError) as exc:
        print(f"mixrep corpus: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    meta = report.metadata
    crossed = (f" + {config.crossed_arrangements} crossed arrangements x {len(config.genres)} mixing priors"
               if config.crossed_arrangements else "")
    print(f"wrote {len(meta)} tracks ({len(config.genres)} genres x {config.tracks_per_genre}{crossed}, "
          f"{config.seconds:g} s) to {args.out} in {report.wall_s:.1f} s with {args.jobs} process(es): "
          f"{report.speed_x_realtime:.1f}x real time")
    print(meta[~meta["crossed"]].groupby("genre")[["integrated_lufs", "crest_db", "has_vocals"]].mean().round(2).to_string())
    for track_id, reason in report.failures.items():
        print(f"FAILED {track_id}: {reason}", file=sys.stderr)
    return 0
