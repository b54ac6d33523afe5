"""Stage 1 training speed on CPU (demo preset): samples/s, data time share of a step, memory.

Usage:
    python benchmarks/pretrain.py [--threads 1] [--steps 30] [--mels results/mels/*.npz
        --features results/features.parquet --manifest results/manifest/manifest.parquet]

Without --mels a synthetic stand-in corpus (tests/fixtures/toy_corpus.py) of the default shape is generated:
96 tracks x 9 variants x 3 s (the default `mel_max_s`). The reference rows use the straightforward data
path (a fancy-indexed numpy gather over the time axis followed by a numpy float32 cast) measured in the
same run, so the ratio shows what the slice-and-widen path buys. The "store" row reads the same segments from
the on-disk Mel store (mixrep.pretrain.mels.MelStore, what `mixrep pretrain` uses; warm page cache). GPU rows are not measured here: no GPU
was lent to this task (on CUDA the loop runs with bf16 autocast; see docs/pretrain.md).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from mixrep.model.losses import info_nce
from mixrep.pretrain.config import PretrainSettings, build_model
from mixrep.pretrain.data import gather_segments, prepare_items, sample_pair_starts
from mixrep.pretrain.mels import MelShard, MelStore, load_mel_bank
from mixrep.runs import FAMILIES

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # tests/fixtures: the toy corpus / bundle


def naive_gather(bank: MelShard, mel_index: np.ndarray, starts: np.ndarray, length: int) -> torch.Tensor:
    frames = bank.offsets[mel_index][:, None] + starts[:, None] + np.arange(length)[None, :]
    return torch.from_numpy(np.moveaxis(bank.mels[..., frames], 3, 0).astype(np.float32))


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load(args: argparse.Namespace, settings: PretrainSettings):
    if args.mels:
        import pandas as pd

        bank = load_mel_bank(args.mels)
        features, manifest = pd.read_parquet(args.features), pd.read_parquet(args.manifest)
        source = f"{len(args.mels)} mel shards"
    else:
        from fixtures.toy_corpus import make_toy_corpus

        corpus = make_toy_corpus(n_tracks=args.tracks, n_variants=9, seconds=settings.mel_max_s or 3.0, seed=0)
        bank, features, manifest = corpus.bank, corpus.features, corpus.manifest
        source = f"synthetic stand-in ({args.tracks} tracks x 9 variants)"
    items, stats = prepare_items(bank, features, manifest, FAMILIES, settings.segment_frames)
    return bank, items, stats, source


def measure(run: str, bank, items, stats, settings: PretrainSettings, steps: int, gather) -> dict[str, float]:
    train = items.of_split("train")
    model = build_model(run, settings, stats.dims, seed=0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr)
    rng = np.random.default_rng(0)
    batch = settings.batch_size
    data_s = compute_s = 0.0
    for step in range(steps + 2):  # two warm-up steps are not counted
        t0 = time.perf_counter()
        pos = rng.choice(len(train), size=batch, replace=False)
        first, second = sample_pair_starts(train.num_frames[pos], settings.segment_frames, rng)
        mels = gather(bank, np.concatenate([train.mel_index[pos]] * 2), np.concatenate([first, second]),
                      settings.segment_frames)
        features = {k: torch.from_numpy(v[np.concatenate([pos, pos])]) for k, v in train.features.items()}
        t1 = time.perf_counter()
        z = model(mels, features)
        loss = info_nce(z[:batch], z[batch:], settings.temperature)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
        optimizer.step()
        t2 = time.perf_counter()
        if step >= 2:
            data_s += t1 - t0
            compute_s += t2 - t1
    step_s = (data_s + compute_s) / steps
    return {"step_ms": 1000 * step_s, "items_per_s": batch / step_s, "segments_per_s": 2 * batch / step_s,
            "data_share": data_s / (data_s + compute_s), "data_ms": 1000 * data_s / steps}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--tracks", type=int, default=96)
    parser.add_argument("--runs", nargs="+", default=["film-all", "prepend-all", "xattn-all", "none"])
    parser.add_argument("--mels", nargs="*")
    parser.add_argument("--features")
    parser.add_argument("--manifest")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    settings = PretrainSettings()
    start = time.perf_counter()
    bank, items, stats, source = load(args, settings)
    print(f"data: {source}; {len(items)} items; mel bank {bank.mels.nbytes / 2**20:.0f} MiB float16; "
          f"prepared in {time.perf_counter() - start:.1f} s; preset {settings.preset} "
          f"{settings.presets[settings.preset]}; batch {settings.batch_size} x 2 segments of "
          f"{settings.segment_frames} frames; {args.threads} thread(s); torch {torch.__version__}")
    header = f"| {'device':6} | {'run':12} | {'data path':22} | {'step ms':>8} | {'items/s':>8} | " \
             f"{'data ms':>8} | {'data share':>10} | {'ratio vs ref':>12} |"
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    scratch = tempfile.TemporaryDirectory()
    store = MelStore(args.mels if args.mels else [bank.save(Path(scratch.name) / "shard-000.npz")])
    for run in args.runs:
        ours = measure(run, bank, items, stats, settings, args.steps, gather_segments)
        ref = measure(run, bank, items, stats, settings, args.steps, naive_gather) if run == args.runs[0] else None
        rows = [("slice + torch widen", ours, ref)]
        if ref is not None:
            rows.append(("reference: fancy index", ref, None))
            rows.append(("store: preadv (disk)", measure(run, store, items, stats, settings, args.steps,
                                                         gather_segments), ref))
        for name, r, base in rows:
            ratio = f"{base['step_ms'] / r['step_ms']:.2f}x step, {base['data_ms'] / r['data_ms']:.1f}x data" \
                if base else ("1.00x" if r is ref else "-")
            print(f"| {'cpu':6} | {run:12} | {name:22} | {r['step_ms']:8.1f} | {r['items_per_s']:8.1f} | "
                  f"{r['data_ms']:8.1f} | {100 * r['data_share']:9.1f}% | {ratio:>12} |")
    print(f"| {'cuda':6} | {'(all)':12} | {'not measured':22} | {'-':>8} | {'-':>8} | {'-':>8} | {'-':>10} | "
          f"{'no GPU lent':>12} |")
    print(f"peak RSS {peak_rss_mib():.0f} MiB (this process: mel bank + model + optimiser state, and with the "
          f"synthetic stand-in its generation too; benchmarks/streaming.py measures the commands' memory)")
    store.close()
    scratch.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
