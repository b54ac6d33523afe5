"""Distance closed vs objective evaluations: the default CMA-ES budget (`transfer.preset: cpu`) against the
published ST-ITO one (`st-ito`), on the default genre pairs (jazz -> pop, folk -> metal).

What it uses (nothing is trained): track 0 of each genre of the synthetic corpus (`mixrep.corpus`, seed 0,
`--seconds` long, true stems), a centred `--excerpt` of each, the default 8 optimised parameters per stem,
and a **random-init** stem-aware encoder (the tiny test preset: 1 layer, width 16, 2 heads, ff x2, patch 8,
128 Mel bands, 32-frame segments, no conditioning, torch seed 0) wrapped as `transfer.embedding: encoder` would.
The objective is `1 - cos(E(remix), E(target))` (feature_weight 0). The reference distance d0 is the objective
of the identity chain (the source loudness-matched to the target: what `evaluate_start` evaluates for the cpu
preset); "closed" = (d0 - best after n evaluations) / d0.

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/transfer_budget.py  (prints a markdown table; --out CSV)
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch

from mixrep.corpus.generate import CorpusSettings, TrackSpec, generate_track
from mixrep.model.checkpoint import EncoderCheckpoint
from mixrep.model.encoder import EncoderSettings, MixEncoder
from mixrep.model.frontend import MelSettings, MelFrontend
from mixrep.pretrain.bundle import EncoderBundle
from mixrep.signal.excerpt import centred_excerpt, excerpt_samples
from mixrep.signal.loudness import integrated_lufs
from mixrep.stems import SAMPLE_RATE
from mixrep.transfer.chain import ChainSettings
from mixrep.transfer.ito import StyleObjective, cmaes
from mixrep.transfer.params import ParamSpace
from mixrep.transfer.presets import resolve_search
from mixrep.transfer.run import DEFAULT_PARAMS

# source genre, target genre, search: the default pairs under both budgets, and the published search without its
# early stop on the first pair (all of them: ~15 CPU minutes on one core)
RUNS = ("jazz:pop:cpu", "jazz:pop:st-ito", "folk:metal:cpu", "folk:metal:st-ito", "jazz:pop:st-ito-nostop")
SEARCHES = {"cpu": {"preset": "cpu"}, "st-ito": {"preset": "st-ito"},
            "st-ito-nostop": {"preset": "st-ito", "cmaes": {"patience": 33}}}  # 32 generations, never stops early
CHECKPOINTS = (1, 25, 121, 241, 512, 1024, 1536, 2048, 4096)  # "best after at most n evaluations"


def random_encoder(seed: int = 0) -> EncoderBundle:
    """The tiny encoder preset with random weights, packaged like a loaded encoder.pt."""
    torch.manual_seed(seed)
    config = EncoderSettings(n_mels=128, layers=1, width=16, heads=2, ff_mult=2, patch_frames=8, dropout=0.0,
                           conditioning="none")
    model = MixEncoder(config, {}).eval()
    mel = MelSettings()
    meta = EncoderCheckpoint(model_class="mixrep.model.encoder.MixEncoder", model_kwargs=model.kwargs(),
                             run="random-init", mel=mel.to_dict(), segment_frames=32)
    return EncoderBundle(model=model, meta=meta, frontend=MelFrontend(mel), device=torch.device("cpu"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="corpus track length")
    parser.add_argument("--excerpt", type=float, default=2.0, help="centred excerpt the search sees (s)")
    parser.add_argument("--runs", nargs="+", default=list(RUNS), help="source:target:search, search in "
                        f"{sorted(SEARCHES)}")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="CSV of every row")
    args = parser.parse_args()
    torch.set_num_threads(1)

    corpus = CorpusSettings(seconds=args.seconds)
    runs = [tuple(run.split(":")) for run in args.runs]
    tracks = {g: generate_track(TrackSpec(g, 0, args.seed), corpus).stems for g in sorted({g for r in runs for g in r[:2]})}
    bundle = random_encoder(args.seed)
    embed = lambda batch: np.asarray(bundle.embed_stems(np.asarray(batch, np.float32), batch_size=128),  # noqa: E731
                                     dtype=np.float64)
    space = ParamSpace(list(DEFAULT_PARAMS))
    rows = []
    for source, target, search in runs:
        length = excerpt_samples(args.excerpt, SAMPLE_RATE)
        src, tgt = centred_excerpt(tracks[source], length), centred_excerpt(tracks[target], length)
        chain = ChainSettings(target_lufs=integrated_lufs(tgt.sum(axis=0), SAMPLE_RATE))
        objective = StyleObjective(space, embed, tgt, src, chain)
        d0 = float(objective(space.neutral_vector()[None])[0])
        settings = resolve_search(SEARCHES[search], args.seed)
        started, cpu = time.perf_counter(), time.process_time()
        result = cmaes(objective, space.neutral_vector(), settings)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        spent = result.curve[-1].evaluations
        row = {"pair": f"{source} -> {target}", "search": search, "d0": d0, "evaluations": spent,
               "best": result.objective, "closed": (d0 - result.objective) / d0, "wall_s": seconds, "cpu_s": cpu,
               "stop": result.stop_reason}
        for n in CHECKPOINTS:
            reached = [p.best for p in result.curve if p.evaluations <= n]
            row[f"closed@{n}"] = (d0 - reached[-1]) / d0 if reached and spent >= n else None
        rows.append(row)
        print(f"{row['pair']} {search}: d0 {d0:.5f} -> {result.objective:.5f} ({row['closed']:+.3f}) in {spent} "
              f"evaluations, {seconds:.0f} s wall, {cpu:.0f} s CPU ({result.stop_reason})", flush=True)
    table = pd.DataFrame(rows)
    if args.out:
        table.to_csv(args.out, index=False)
    cols = ["pair", "search", "d0", *[f"closed@{n}" for n in CHECKPOINTS], "evaluations", "closed", "cpu_s", "stop"]
    print(table[cols].to_markdown(index=False, floatfmt=".3f"))


if __name__ == "__main__":
    main()
