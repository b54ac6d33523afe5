"""Bounded memory of Stage 1 on a growing corpus: peak RSS of training and embedding at 1x and 8x, and the
numbers behind the Mel store layout.

Usage:
    OMP_NUM_THREADS=1 python benchmarks/streaming.py [--tracks 96] [--scale 8] [--steps 5] [--root DIR]

Synthetic Mel shards are written directly (no audio): `--tracks` tracks x 9 variants x 3 s (517 frames, the
default `mel_max_s`), 12 tracks per shard, random float16 log-Mels, random feature rows of the toy corpus'
columns and a manifest with a 70/15/15 split. Each measurement runs in its own subprocess; its peak RSS is
the VmHWM of that process (/proc/self/status at its end: the kernel's high-water mark of resident memory,
file-backed pages included).

Rows:
    pretrain (store)   MelStore + prepare_items + train_encoder (input statistics over every training item,
                       then `--steps` optimiser steps of the demo preset), as `mixrep pretrain` does.
    embed (store)      MelStore + prepare_items + embed_items of every item (tiny encoder: memory, not the
                       model, is measured; the data path is that of `mixrep embed`).
    pretrain (memory)  the former path: load_mel_bank (every shard in one array) + the same steps; measured
                       at 1x and 2x only (it needs the whole corpus in RAM: 8x would take ~8x the 1x figure).
The layout table times random segment reads (128 frames, warm page cache) and the RSS after reading every
item once through each access path.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # tests/fixtures: the toy corpus / bundle

FRAMES_PER_ITEM = 517  # 3 s at 44.1 kHz, hop 256
VARIANTS = 9
TRACKS_PER_SHARD = 12
SEGMENT = 128


class _Stop(Exception):
    pass


def proc_status_mib(field: str = "VmRSS") -> float:
    """A memory field of /proc/self/status in MiB (VmRSS: now; VmHWM: peak of this process image)."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# ---------------------------------------------------------------- synthetic corpus
def write_corpus(root: Path, tracks: int, seed: int = 0) -> dict[str, object]:
    """Shards, features.parquet and manifest.parquet of `tracks` synthetic tracks under `root`."""
    import pandas as pd

    from mixrep.model.frontend import MelSettings
    from mixrep.pretrain.mels import MelShard
    from fixtures.toy_corpus import make_toy_corpus

    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    per_shard = TRACKS_PER_SHARD * VARIANTS
    block = (rng.standard_normal((4, 2, 128, per_shard * FRAMES_PER_ITEM), dtype=np.float32) * 3 - 20)
    block = block.astype(np.float16)  # one random block, reused by every shard (content does not matter here)
    paths, ids = [], []
    for s in range(int(np.ceil(tracks / TRACKS_PER_SHARD))):
        n = min(TRACKS_PER_SHARD, tracks - s * TRACKS_PER_SHARD)
        names = [f"s{s:03d}t{t:02d}" for t in range(n)]
        k = n * VARIANTS
        shard = MelShard(mels=block[..., :k * FRAMES_PER_ITEM],
                         offsets=np.arange(k + 1, dtype=np.int64) * FRAMES_PER_ITEM,
                         track_id=np.repeat(names, VARIANTS), variant_id=np.tile(np.arange(VARIANTS), n),
                         mel_config=MelSettings(), max_s=3.0)
        paths.append(str(shard.save(root / f"shard-{s:03d}.npz")))
        ids += names
    columns = [c for c in make_toy_corpus(n_tracks=2, n_variants=1, seconds=0.3, seed=0).features.columns
               if c not in ("track_id", "variant_id", "segment")]
    keys = pd.DataFrame({"track_id": np.repeat(ids, VARIANTS), "variant_id": np.tile(np.arange(VARIANTS), len(ids))})
    values = pd.DataFrame(rng.standard_normal((len(keys), len(columns))), columns=columns)
    pd.concat([keys, values], axis=1).to_parquet(root / "features.parquet")
    slot = np.arange(len(ids)) % 20
    split = np.where(slot < 14, "train", np.where(slot < 17, "val", "test"))
    pd.DataFrame({"track_id": ids, "split": split, "genre": [f"g{i % 8}" for i in range(len(ids))],
                  "status": "ok"}).to_parquet(root / "manifest.parquet")
    return {"paths": paths, "bytes": sum(os.path.getsize(p) for p in paths)}


# ---------------------------------------------------------------- children (measured)
def child(mode: str, root: Path, steps: int) -> dict[str, object]:
    import pandas as pd
    import torch

    from mixrep.pretrain.config import PretrainSettings
    from mixrep.pretrain.data import prepare_items
    from mixrep.pretrain.embed import embed_items
    from mixrep.pretrain.mels import MelStore, load_mel_bank
    from mixrep.pretrain.train import input_stats, train_encoder
    from mixrep.pretrain.config import build_model
    from mixrep.runs import FAMILIES

    torch.set_num_threads(1)
    imports_mib = proc_status_mib("VmRSS")  # interpreter + torch + pandas + pyarrow, before any data
    paths = sorted(str(p) for p in root.glob("shard-*.npz"))
    start = time.perf_counter()
    bank = load_mel_bank(paths) if mode == "pretrain-memory" else MelStore(paths)
    items, stats = prepare_items(bank, pd.read_parquet(root / "features.parquet"),
                                 pd.read_parquet(root / "manifest.parquet"), FAMILIES, SEGMENT)
    cpu = torch.device("cpu")
    if mode.startswith("pretrain"):
        settings = PretrainSettings.from_config({"pretrain": {"epochs": 1, "checkpoint_every": 10**9,
                                                                "eval_every": 0, "device": "cpu"}})

        def stop(step: int, _loss: float) -> None:
            if step >= steps:
                raise _Stop

        with tempfile.TemporaryDirectory() as work:
            try:
                train_encoder("film-all", 0, bank, items, stats, settings, work, cpu, on_step=stop,
                              log_print=lambda _: None)
            except _Stop:
                pass
        done = f"{steps} steps"
    else:
        tiny = {"preset": "tiny", "presets": {"tiny": {"layers": 1, "width": 16, "heads": 2, "ff_mult": 2,
                                                       "patch_frames": 16}}, "cond_hidden": 16, "device": "cpu"}
        settings = PretrainSettings.from_config({"pretrain": tiny})
        model = build_model("film-all", settings, stats.dims, 0)
        model.set_input_stats(*input_stats(bank, items.of_split("train")))
        embeddings = embed_items(model.eval(), bank, items, SEGMENT, cpu, 64)
        done = f"{embeddings.shape[0]} items x {embeddings.shape[1]}"
    return {"items": len(items), "done": done, "seconds": round(time.perf_counter() - start, 1),
            "imports_rss_mib": round(imports_mib), "peak_rss_mib": proc_status_mib("VmHWM")}


def measure(mode: str, root: Path, steps: int) -> dict[str, object]:
    """Run `child` in a fresh interpreter; its peak RSS is the VmHWM it reads from /proc at its end.

    (Not wait4's ru_maxrss: Linux carries the parent's high-water mark across fork + exec into it.)
    """
    proc = subprocess.run([sys.executable, __file__, "--child", mode, "--root", str(root), "--steps", str(steps)],
                          stdout=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    if proc.returncode != 0:
        raise SystemExit(f"{mode} on {root} failed (exit {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- layout numbers
def layout_table(paths: list[str], n_reads: int = 2000) -> list[dict[str, object]]:
    """Per access path: open cost, mean time per random 128-frame segment, RSS grown by reading every item."""
    from mixrep.pretrain.mels import MelStore, _member_data_offset

    rng = np.random.default_rng(1)
    rows = []
    store = MelStore(paths)
    index = rng.integers(0, len(store), n_reads)
    starts = rng.integers(0, FRAMES_PER_ITEM - SEGMENT + 1, n_reads)
    size = os.path.getsize(paths[0])

    def time_reads(read) -> float:
        read(int(index[0]), int(starts[0]))
        t0 = time.perf_counter()
        for k, s in zip(index.tolist(), starts.tolist()):
            read(k, s)
        return (time.perf_counter() - t0) / n_reads * 1e6

    def rss_grown(read_item) -> float:
        before = proc_status_mib()
        for k in range(len(store)):
            read_item(k)
        return proc_status_mib() - before

    # chosen: time-major frames inside the npz, preadv into the batch buffer
    t0 = time.perf_counter()
    opened = MelStore(paths)
    open_ms = (time.perf_counter() - t0) * 1e3 / len(paths)
    grown = rss_grown(lambda k: opened.read_frames(k, 0, FRAMES_PER_ITEM))
    rows.append({"layout": "time-major npz + preadv (chosen)", "file_mb": size / 1e6, "open_ms_per_shard": open_ms,
                 "us_per_segment": time_reads(lambda k, s: opened.read_frames(k, s, SEGMENT)),
                 "rss_growth_mib_full_pass": grown})
    opened.close()

    # same bytes through np.memmap: as fast, but every page touched stays in the process's RSS
    t0 = time.perf_counter()
    maps = []
    for p in paths:
        offset, shape = _member_data_offset(Path(p), "frames.npy")
        maps.append(np.memmap(p, dtype=np.float16, mode="r", offset=offset, shape=shape))
    open_ms = (time.perf_counter() - t0) * 1e3 / len(paths)
    per = TRACKS_PER_SHARD * VARIANTS

    def mm_read(k: int, s: int, n: int = SEGMENT) -> np.ndarray:
        base = (k % per) * FRAMES_PER_ITEM + s
        return np.array(maps[k // per][base:base + n])

    grown = rss_grown(lambda k: mm_read(k, 0, FRAMES_PER_ITEM))  # before the timed reads touch the pages
    rows.append({"layout": "time-major npz + np.memmap", "file_mb": size / 1e6, "open_ms_per_shard": open_ms,
                 "us_per_segment": time_reads(mm_read), "rss_growth_mib_full_pass": grown})
    del maps

    # the former layout (4, 2, M, T): a segment is 1024 strided runs of 256 B
    with tempfile.TemporaryDirectory(dir=Path(paths[0]).parent) as tmp:
        frames = np.load(paths[0])["frames"]
        old = Path(tmp) / "old.npy"
        np.save(old, np.ascontiguousarray(np.moveaxis(frames, 0, -1)))
        del frames
        t0 = time.perf_counter()
        band_major = np.load(old, mmap_mode="r")
        open_ms = (time.perf_counter() - t0) * 1e3

        def old_read(k: int, s: int) -> np.ndarray:
            base = (k % per) * FRAMES_PER_ITEM + s
            return np.array(band_major[..., base:base + SEGMENT])

        rows.append({"layout": "band-major (4,2,M,T) + np.memmap", "file_mb": os.path.getsize(old) / 1e6,
                     "open_ms_per_shard": open_ms, "us_per_segment": time_reads(old_read),
                     "rss_growth_mib_full_pass": float("nan")})
        del band_major
        t0 = time.perf_counter()
        np.load(paths[0])["frames"]
        rows.append({"layout": "np.load whole shard (former path)", "file_mb": size / 1e6,
                     "open_ms_per_shard": (time.perf_counter() - t0) * 1e3, "us_per_segment": float("nan"),
                     "rss_growth_mib_full_pass": float("nan")})
    store.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracks", type=int, default=96)
    parser.add_argument("--scale", type=int, default=8)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--root", type=Path, default=None, help="scratch directory (default: a temporary one)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.root, args.steps)))
        return
    with tempfile.TemporaryDirectory(dir=args.root) as scratch:
        scratch = Path(scratch)
        results, sizes = [], {}
        for factor in (1, 2, args.scale):
            t0 = time.perf_counter()
            corpus = write_corpus(scratch / f"x{factor}", args.tracks * factor)
            sizes[factor] = corpus["bytes"]
            print(f"wrote {factor}x: {args.tracks * factor} tracks, {len(corpus['paths'])} shards, "
                  f"{corpus['bytes'] / 2**30:.2f} GiB in {time.perf_counter() - t0:.1f} s", flush=True)
        layout = layout_table(sorted(str(p) for p in (scratch / "x1").glob("shard-*.npz")))
        for factor in (1, args.scale):
            for mode in ("pretrain-store", "embed-store"):
                results.append({"mode": mode, "factor": factor, **measure(mode, scratch / f"x{factor}", args.steps)})
                print(json.dumps(results[-1]), flush=True)
        for factor in (1, 2):
            results.append({"mode": "pretrain-memory", "factor": factor,
                            **measure("pretrain-memory", scratch / f"x{factor}", args.steps)})
            print(json.dumps(results[-1]), flush=True)

    print(f"\nPeak RSS (MiB), {args.tracks} tracks x {VARIANTS} variants = 1x; Mel store "
          f"{sizes[1] / 2**30:.2f} GiB at 1x, {sizes[args.scale] / 2**30:.2f} GiB at {args.scale}x")
    print(f"| run | 1x | 2x | {args.scale}x | {args.scale}x / 1x | items at {args.scale}x |")
    print("|---|---:|---:|---:|---:|---:|")
    for mode in ("pretrain-store", "embed-store", "pretrain-memory"):
        by = {r["factor"]: r for r in results if r["mode"] == mode}
        big = by.get(args.scale)
        cells = [f"{by[f]['peak_rss_mib']:.0f}" if f in by else "-" for f in (1, 2, args.scale)]
        ratio = f"{big['peak_rss_mib'] / by[1]['peak_rss_mib']:.3f}" if big else "-"
        print(f"| {mode} | {' | '.join(cells)} | {ratio} | {big['items'] if big else '-'} |")
    print("\nStore layout (one shard of 12 tracks x 9 variants; warm page cache; 2,000 random 128-frame reads)")
    print("| layout | file MB | open ms/shard | us/segment | RSS growth after reading every item (MiB) |")
    print("|---|---:|---:|---:|---:|")
    for row in layout:
        print(f"| {row['layout']} | {row['file_mb']:.1f} | {row['open_ms_per_shard']:.2f} | "
              f"{row['us_per_segment']:.0f} | {row['rss_growth_mib_full_pass']:.0f} |")


if __name__ == "__main__":
    main()
