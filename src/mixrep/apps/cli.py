"""CLI entries: `mixrep bundle build|verify`, `mixrep analyze`, `mixrep compare`, `mixrep transfer-file`.

Bad input ends in one line `mixrep <command>: <file>: <reason>` (mixrep.errors); `analyze` goes on with the
other files of a batch and lists what failed at the end (exit 2 if any failed)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mixrep.errors import EXIT_BAD_INPUT, InputError

DEFAULT_BUNDLE = "results/bundle"


def _bundle_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bundle", default=DEFAULT_BUNDLE, help=f"model bundle folder (default {DEFAULT_BUNDLE})")


def bundle_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mixrep bundle", description="build or verify a model bundle")
    sub = parser.add_subparsers(dest="action", required=True)
    build = sub.add_parser("build", help="gather the artifacts of a run into a bundle (the `bundle` rule)")
    build.add_argument("--separator", default=None, help="SCNet checkpoint (omit for a run on oracle stems)")
    for name in ("encoder", "regressor", "predictions", "embeddings", "features"):
        build.add_argument(f"--{name}", required=True)
    build.add_argument("--settings", required=True, help="JSON: run, seed, features, separation, transfer")
    build.add_argument("--code-versions", default="{}", help="JSON: part -> code version")
    build.add_argument("--out", required=True)
    verify = sub.add_parser("verify", help="check every file against manifest.json")
    verify.add_argument("dir")
    args = parser.parse_args(argv)
    from mixrep.apps.bundle import build_bundle, verify_bundle

    if args.action == "verify":
        problems = verify_bundle(args.dir)
        for line in problems:
            print(f"mixrep bundle verify: {line}", file=sys.stderr)
        if not problems:
            print(f"{args.dir}: ok ({len(json.loads((Path(args.dir) / 'manifest.json').read_text())['files'])} files)")
        return EXIT_BAD_INPUT if problems else 0
    out = build_bundle(args.out, separator=args.separator, encoder=args.encoder, regressor=args.regressor,
                       predictions=args.predictions, embeddings=args.embeddings, features=args.features,
                       settings=json.loads(args.settings), code_versions=json.loads(args.code_versions))
    print(f"wrote {out}")
    return 0


def analyze_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mixrep analyze", description="what the model says about your mixes")
    parser.add_argument("mixes", nargs="+", metavar="MIX")
    parser.add_argument("--stems", default=None, help="folder of given stems: DIR/<name>/{vocals,bass,drums,other}.wav")
    parser.add_argument("-o", "--out", required=True, help="folder for <name>.json and <name>.html")
    parser.add_argument("--chunk-s", type=float, default=30.0, help="seconds processed at a time (memory)")
    parser.add_argument("--no-html", action="store_true")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    _bundle_arg(parser)
    args = parser.parse_args(argv)
    from mixrep.apps.analyze import AnalyzeSettings, analyze_file
    from mixrep.apps.bundle import load_bundle
    from mixrep.apps.report_html import render_html
    from mixrep.audio import AudioError

    bundle = load_bundle(args.bundle)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    settings = AnalyzeSettings(chunk_s=args.chunk_s, progress=not args.quiet)
    failed = []
    for mix in args.mixes:
        try:
            record = analyze_file(mix, bundle, args.stems, settings)
        except (AudioError, InputError) as exc:
            reason = exc.problem
            where = exc.path if isinstance(exc, AudioError) else (exc.file or mix)
            print(f"mixrep analyze: {where}: {reason}", file=sys.stderr)
            failed.append((mix, reason))
            continue
        (out / f"{record['name']}.json").write_text(json.dumps(record, indent=1, allow_nan=False) + "\n")
        if not args.no_html:
            (out / f"{record['name']}.html").write_text(render_html(record))
        for note in record["input"]["notes"]:
            print(f"mixrep analyze: {mix}: {note}", file=sys.stderr)
        print(f"{mix}: quality {record['quality']['score']:.2f} [{record['quality']['low']:.2f}, "
              f"{record['quality']['high']:.2f}], nearest style {record['nearest_style']}; "
              f"wrote {out / record['name']}.json")
        for line in record["summary"]:
            print(f"  {line}")
    if failed:
        print(f"mixrep analyze: {len(failed)} of {len(args.mixes)} file(s) failed: "
              + "; ".join(f"{m} ({r})" for m, r in failed), file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


def _record(path: str, bundle, stems: str | None) -> dict:
    from mixrep.apps.analyze import AnalyzeSettings, SCHEMA, analyze_file

    if path.endswith(".json"):
        data = json.loads(Path(path).read_text())
        if data.get("schema") != SCHEMA:
            raise InputError(path, f"not a `mixrep analyze` JSON (schema {data.get('schema')!r})")
        return data
    return analyze_file(path, bundle, stems, AnalyzeSettings(progress=False))


def compare_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mixrep compare", description="how two mixes differ")
    parser.add_argument("a", metavar="A", help="audio file or `mixrep analyze` JSON")
    parser.add_argument("b", metavar="B")
    parser.add_argument("--stems", default=None, help="folder of given stems (as for analyze)")
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("-o", "--out", default=None, help="also write the comparison as JSON")
    _bundle_arg(parser)
    args = parser.parse_args(argv)
    from mixrep.apps.bundle import load_bundle
    from mixrep.apps.compare import compare_records, format_comparison
    from mixrep.audio import AudioError

    bundle = load_bundle(args.bundle)
    try:
        a, b = _record(args.a, bundle, args.stems), _record(args.b, bundle, args.stems)
    except AudioError as exc:
        raise InputError(exc.path, exc.problem) from None
    result = compare_records(a, b, bundle.norms["feature_stats"], args.top)
    print(format_comparison(result))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1, allow_nan=False) + "\n")
    return 0


def transfer_file_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mixrep transfer-file",
                                     description="remix SOURCE towards the style of REF (stem-aware ST-ITO)")
    parser.add_argument("source", metavar="SOURCE")
    parser.add_argument("--reference", required=True, metavar="REF")
    parser.add_argument("-o", "--out", required=True, metavar="OUT.wav")
    parser.add_argument("--stems", default=None, help="folder of given stems: DIR/<name>/<stem>.wav for both files")
    parser.add_argument("--embedding", choices=("encoder", "features"), default="encoder",
                        help="style embedding: the bundle's encoder, or the encoder-free feature stand-in")
    parser.add_argument("--iterations", type=int, default=None, help="CMA-ES generations (preset's otherwise)")
    parser.add_argument("--popsize", type=int, default=None)
    parser.add_argument("--excerpt-s", type=float, default=None, help="seconds the search listens to")
    _bundle_arg(parser)
    args = parser.parse_args(argv)
    from mixrep.apps.bundle import load_bundle
    from mixrep.apps.transfer_own import transfer_file
    from mixrep.audio import AudioError

    bundle = load_bundle(args.bundle)
    overrides: dict = {}
    cmaes = {k: v for k, v in (("iterations", args.iterations), ("popsize", args.popsize)) if v is not None}
    if cmaes:
        overrides["cmaes"] = {**((bundle.settings.get("transfer") or {}).get("cmaes") or {}), **cmaes}
    if args.excerpt_s is not None:
        overrides["excerpt_s"] = args.excerpt_s
    try:
        result = transfer_file(args.source, args.reference, args.out, bundle, args.stems, overrides, args.embedding)
    except AudioError as exc:
        raise InputError(exc.path, exc.problem) from None
    print(result["distances"].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"wrote {args.out}, {Path(args.out).with_suffix('.params.json')}, {Path(args.out).with_suffix('.distances.csv')}")
    return 0
