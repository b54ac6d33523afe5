"""The per-stem effect chain the optimiser drives, rendered with pedalboard.

Per stem, in order: gain, 3-band EQ (low shelf, peak, high shelf), compressor (threshold, ratio, attack,
release), stereo width (mid/side) and constant-power pan (`mixrep.signal.stereo.width_pan`), and a reverb
send added to the dry signal. A bypassed stem passes untouched. The four stems are then summed and one
master gain brings the mix to a loudness target (BS.1770, `mixrep.signal.loudness`). Every render builds
fresh plugins, so equal parameters give bit-identical audio (no state carried between calls).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pedalboard

from mixrep.signal import stereo
from mixrep.signal.loudness import integrated_lufs
from mixrep.stems import SAMPLE_RATE, STEMS

SILENCE_LUFS = -70.0  # quieter than this the mix is treated as silent: no master gain is applied


@dataclass(frozen=True)
class ChainSettings:
    """Fixed (not optimised) settings of the chain.

    Args:
        reverb_room_size: pedalboard Reverb room size of every send (0..1).
        reverb_damping: pedalboard Reverb damping (0..1).
        target_lufs: integrated loudness the master gain brings the mix to; None = no master gain.
        max_master_gain_db: bound on the master gain so a near-silent candidate cannot explode.
    """

    reverb_room_size: float = 0.5
    reverb_damping: float = 0.5
    target_lufs: float | None = -16.0
    max_master_gain_db: float = 30.0


def process_stem(stem: np.ndarray, params: dict[str, float], sample_rate: int,
                 settings: ChainSettings) -> np.ndarray:
    """Apply one stem's chain to a (2, N) float32 stem."""
    board = pedalboard.Pedalboard([
        pedalboard.Gain(gain_db=params["gain_db"]),
        pedalboard.LowShelfFilter(cutoff_frequency_hz=params["low_shelf_freq_hz"],
                                  gain_db=params["low_shelf_gain_db"], q=0.707),
        pedalboard.PeakFilter(cutoff_frequency_hz=params["peak_freq_hz"], gain_db=params["peak_gain_db"],
                              q=params["peak_q"]),
        pedalboard.HighShelfFilter(cutoff_frequency_hz=params["high_shelf_freq_hz"],
                                   gain_db=params["high_shelf_gain_db"], q=0.707),
        pedalboard.Compressor(threshold_db=params["comp_threshold_db"], ratio=params["comp_ratio"],
                              attack_ms=params["comp_attack_ms"], release_ms=params["comp_release_ms"]),
    ])
    out = board(np.ascontiguousarray(stem, dtype=np.float32), sample_rate).astype(np.float64)
    out = stereo.width_pan(out, params["width"], params["pan"])
    send = float(params["reverb_send"])
    if send > 0.0:
        reverb = pedalboard.Reverb(room_size=settings.reverb_room_size, damping=settings.reverb_damping,
                                   wet_level=1.0, dry_level=0.0, width=1.0)
        out = out + send * reverb(np.ascontiguousarray(out, dtype=np.float32), sample_rate).astype(np.float64)
    return out.astype(np.float32)


def render(stems: np.ndarray, physical: dict[str, dict[str, float]], sample_rate: int = SAMPLE_RATE,
           bypass: tuple[str, ...] | list[str] = (), settings: ChainSettings | None = None) -> np.ndarray:
    """Process (4, 2, N) stems with their chains and apply the master gain; returns (4, 2, N) float32.

    The master gain is applied to the stems (not only the mix) so that the returned stems still sum to
    the returned mix, which is what the stem-aware encoder embeds.
    """
    settings = settings or ChainSettings()
    stems = np.asarray(stems, dtype=np.float32)
    if stems.ndim != 3 or stems.shape[:2] != (len(STEMS), 2):
        raise ValueError(f"expected stems of shape (4, 2, N), got {stems.shape}")
    out = np.stack([stem if name in bypass else process_stem(stem, physical[name], sample_rate, settings)
                    for name, stem in zip(STEMS, stems)])
    return apply_master(out, sample_rate, settings)


def apply_master(stems: np.ndarray, sample_rate: int, settings: ChainSettings) -> np.ndarray:
    """One gain on all stems bringing their sum to `settings.target_lufs` (bounded, skipped when silent)."""
    if settings.target_lufs is None:
        return stems.astype(np.float32)
    gain_db = master_gain_db(stems.sum(axis=0), sample_rate, settings.target_lufs, settings.max_master_gain_db)
    return (stems.astype(np.float64) * 10.0 ** (gain_db / 20.0)).astype(np.float32)


def master_gain_db(mix: np.ndarray, sample_rate: int, target_lufs: float, max_gain_db: float = 30.0) -> float:
    """Gain (dB) that brings `mix` to `target_lufs`, clipped to +-max_gain_db; 0 for a silent mix."""
    level = integrated_lufs(mix, sample_rate)
    if level < SILENCE_LUFS:
        return 0.0
    return float(np.clip(target_lufs - level, -max_gain_db, max_gain_db))
