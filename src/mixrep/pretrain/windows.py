"""The grid of encoder views of one item: which Mel frames each view holds and which samples produce them.

The Mel store keeps, per item, the frames of the centre-cropped variant (`mixrep.pretrain.mels.centre_crop`,
`mel_max_s`). Views are the non-overlapping windows of `segment_frames` frames of
`mixrep.pretrain.data.window_starts` (the grid embedding already averaged over). The frontend's STFT is
centred (torch.stft center=True, reflect padding): frame t covers samples [t·hop − n_fft/2, t·hop + n_fft/2)
of the crop, so window [s, s + L) is produced by samples [s·hop − n_fft/2, (s + L − 1)·hop + n_fft/2),
clipped to the crop. Those samples, and only those, are what its per-segment features are computed on.
"""

from __future__ import annotations

from dataclasses import dataclass

from mixrep.pretrain.data import window_starts


@dataclass(frozen=True)
class ViewWindow:
    """Window `segment` of an item: Mel frames [frame_start, frame_start + frames), crop samples [start, stop)."""

    segment: int
    frame_start: int
    frames: int
    sample_start: int
    sample_stop: int


def view_windows(num_samples: int, segment_frames: int, hop: int, n_fft: int) -> list[ViewWindow]:
    """The view grid of a crop of `num_samples` samples (1 + num_samples // hop Mel frames); [] if too short."""
    num_frames = 1 + num_samples // hop
    if num_frames < segment_frames:
        return []
    out = []
    for k, start in enumerate(window_starts(num_frames, segment_frames).tolist()):
        first = max(0, start * hop - n_fft // 2)
        last = min(num_samples, (start + segment_frames - 1) * hop + n_fft // 2)
        out.append(ViewWindow(k, int(start), segment_frames, first, last))
    return out
