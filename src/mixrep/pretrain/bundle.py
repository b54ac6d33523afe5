"""`load_encoder(path)`: a trained encoder packaged for other stages (style transfer, MUSHRA).

The bundle takes raw stems `(B, 4, 2, N)` (float32 numpy or torch, 44.1 kHz, order vocals, bass, drums,
other) and their raw features (dicts from `mixrep.features.extract_features`, or arrays whose columns are
`bundle.feature_names`), applies the same Mel frontend and train-split standardisation as training, and
returns z `(B, 4·d)`: the mean of the encoder output over non-overlapping windows of `segment_frames`.

A feature-conditioned encoder is trained with every view conditioned on the features of its own window's
samples (`mixrep.pretrain.windows`). `embed_stems_by_window` does the same at inference, computing each
window's features itself; `embed_stems` with one feature row per item conditions every window on that row
(the item-level behaviour of encoders trained before per-segment conditioning).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mixrep.model.checkpoint import EncoderCheckpoint, load_checkpoint
from mixrep.model.encoder import MixEncoder
from mixrep.model.frontend import MelSettings, MelFrontend
from mixrep.devices import resolve_device
from mixrep.pretrain.data import FeatureStats, window_starts
from mixrep.pretrain.embed import autocast
from mixrep.pretrain.windows import view_windows
from mixrep.stems import SAMPLE_RATE

FeatureInput = Sequence[Mapping[str, float]] | np.ndarray | torch.Tensor | None


@dataclass
class EncoderBundle:
    """A loaded encoder with its frontend and feature standardisation."""

    model: MixEncoder
    meta: EncoderCheckpoint
    frontend: MelFrontend
    device: torch.device

    @property
    def run(self) -> str:
        return self.meta.run

    @property
    def embedding_dim(self) -> int:
        return self.model.embedding_dim

    @property
    def families(self) -> tuple[str, ...]:
        return tuple(self.meta.feature_columns)

    @property
    def feature_names(self) -> list[str]:
        """Raw feature columns the encoder needs, family by family (empty for an unconditioned encoder)."""
        return [name for cols in self.meta.feature_columns.values() for name in cols]

    @property
    def min_samples(self) -> int:
        """Shortest input that holds one segment."""
        return (self.meta.segment_frames - 1) * self.frontend.config.hop_length

    def _stats(self) -> FeatureStats:
        meta = self.meta
        return FeatureStats(dict(meta.feature_columns), {k: np.asarray(v) for k, v in meta.feature_mean.items()},
                            {k: np.asarray(v) for k, v in meta.feature_std.items()})

    def standardise(self, features: FeatureInput, batch: int) -> dict[str, torch.Tensor]:
        """Raw features -> family -> standardised (B, n_j) tensors on the bundle's device."""
        if not self.families:
            return {}
        if features is None:
            raise ValueError(f"encoder {self.run!r} is conditioned on {list(self.families)}: pass their features")
        stats = self._stats()
        if isinstance(features, (np.ndarray, torch.Tensor)):
            array = np.asarray(features.detach().cpu() if isinstance(features, torch.Tensor) else features,
                               dtype=np.float64)
            if array.shape != (batch, len(self.feature_names)):
                raise ValueError(f"feature array of shape {array.shape}, expected ({batch}, "
                                 f"{len(self.feature_names)}) in the order of bundle.feature_names")
            import pandas as pd

            standardised = stats.transform(pd.DataFrame(array, columns=self.feature_names))
        else:
            if len(features) != batch:
                raise ValueError(f"{len(features)} feature rows for a batch of {batch} stems")
            standardised = stats.transform_dicts(features)
        return {k: torch.from_numpy(v).to(self.device) for k, v in standardised.items()}

    @torch.inference_mode()
    def embed_mels(self, mels: torch.Tensor, features: dict[str, torch.Tensor]) -> np.ndarray:
        """log-Mels (B, 4, 2, M, T) + standardised features -> z (B, 4·d), averaged over windows."""
        length = self.meta.segment_frames
        batch, frames = mels.shape[0], mels.shape[-1]
        if frames < length:
            raise ValueError(f"input of {frames} Mel frames is shorter than one segment ({length} frames, "
                             f"{self.min_samples} samples)")
        starts = window_starts(frames, length)
        windows = torch.stack([mels[..., s:s + length] for s in starts], dim=1)  # B, W, 4, 2, M, S
        windows = windows.reshape(batch * len(starts), *windows.shape[2:])
        repeated = {k: v.repeat_interleave(len(starts), dim=0) for k, v in features.items()}
        with autocast(self.device):
            z = self.model(windows.to(self.device), repeated)
        return z.float().reshape(batch, len(starts), -1).mean(dim=1).cpu().numpy()

    @torch.inference_mode()
    def embed_stems(self, stems: np.ndarray | torch.Tensor, features: FeatureInput = None,
                    batch_size: int = 16) -> np.ndarray:
        """Raw stems (B, 4, 2, N) (+ raw features) -> z (B, 4·d) float32, without gradients, in batches."""
        audio = torch.as_tensor(np.asarray(stems, dtype=np.float32) if not isinstance(stems, torch.Tensor)
                                else stems.float())
        if audio.dim() != 4 or tuple(audio.shape[1:3]) != (4, 2):
            raise ValueError(f"expected stems (B, 4, 2, N), got {tuple(audio.shape)}")
        standardised = self.standardise(features, audio.shape[0])
        out = []
        for lo in range(0, audio.shape[0], batch_size):
            mels = self.frontend(audio[lo:lo + batch_size].to(self.device))
            out.append(self.embed_mels(mels, {k: v[lo:lo + batch_size] for k, v in standardised.items()}))
        return np.concatenate(out)

    @torch.inference_mode()
    def embed_stems_by_window(self, stems: np.ndarray, feature_settings: Mapping | None = None) -> np.ndarray:
        """Raw stems (B, 4, 2, N) -> z (B, 4·d): each window conditioned on its own samples' features.

        This is how the encoder was trained (and how the workflow's `embed` conditions it): the windows are the
        grid of `view_windows` and each row is `extract_window_features` of exactly the samples that produce
        the window's Mel frames (columns a short window cannot define are NaN, standardised to 0).
        """
        from mixrep.features.extract import extract_window_features

        audio = np.asarray(stems, dtype=np.float32)
        if audio.ndim != 4 or audio.shape[1:3] != (4, 2):
            raise ValueError(f"expected stems (B, 4, 2, N), got {audio.shape}")
        if not self.families:
            return self.embed_stems(audio)
        config, length = self.frontend.config, self.meta.segment_frames
        windows = view_windows(audio.shape[-1], length, config.hop_length, config.n_fft)
        if not windows:
            raise ValueError(f"input of {audio.shape[-1]} samples is shorter than one segment ({length} frames, "
                             f"{self.min_samples} samples)")
        out = []
        for item in audio:
            rows = [extract_window_features(item[..., w.sample_start:w.sample_stop], SAMPLE_RATE, feature_settings)
                    for w in windows]
            features = self.standardise(rows, len(rows))
            mels = self.frontend(torch.from_numpy(np.ascontiguousarray(item))[None].to(self.device))[0]
            views = torch.stack([mels[..., w.frame_start:w.frame_start + length] for w in windows])
            with autocast(self.device):
                z = self.model(views, features)
            out.append(z.float().mean(dim=0).cpu().numpy())
        return np.stack(out)

    __call__ = embed_stems


def load_encoder(path: str | Path, device: str = "auto") -> EncoderBundle:
    """Load `encoder.pt` (results/pretrain/{run}/seed{seed}/) as an EncoderBundle."""
    target = resolve_device(device)
    model, meta = load_checkpoint(path, target)
    frontend = MelFrontend(MelSettings(**meta.mel)).to(target)
    return EncoderBundle(model=model, meta=meta, frontend=frontend, device=target)
