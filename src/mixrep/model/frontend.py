"""Log-Mel input of the encoder, per stem and per stereo channel (mid/side by default).

The encoder has to see the stereo image (panning and width are mixing decisions), so each stem gives two
spectrograms: mid = (L+R)/2 and side = (L-R)/2 (or L and R with `stereo="lr"`). Mid/side is the default
because width changes show up in the side channel alone instead of as a small L/R difference.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from mixrep.signal.mel import mel_spectrogram
from mixrep.stems import SAMPLE_RATE


@dataclass(frozen=True)
class MelSettings:
    """Args:
        sample_rate: audio rate in Hz (the pipeline's 44.1 kHz).
        n_fft: STFT size (1024).
        hop_length: STFT hop (256, i.e. ~172 frames/s at 44.1 kHz).
        n_mels: Mel bands (128, slaney scale: the htk scale leaves an empty band at this size).
        stereo: "midside" or "lr": which pair of channels is analysed.
        log_floor: added before the log, so silence maps to log(log_floor) instead of -inf.
    """

    sample_rate: int = SAMPLE_RATE
    n_fft: int = 1024
    hop_length: int = 256
    n_mels: int = 128
    stereo: str = "midside"
    log_floor: float = 1e-5

    def to_dict(self) -> dict:
        return asdict(self)


class MelFrontend(nn.Module):
    """Stems `(B, 4, 2, N)` -> log-Mel `(B, 4, 2, n_mels, T)`, T = 1 + N // hop_length."""

    def __init__(self, config: MelSettings | None = None) -> None:
        super().__init__()
        self.config = config or MelSettings()
        if self.config.stereo not in ("midside", "lr"):
            raise ValueError(f"stereo must be 'midside' or 'lr', got {self.config.stereo!r}")
        self.mel = mel_spectrogram(self.config.sample_rate, self.config.n_fft, self.config.hop_length,
                                   self.config.n_mels)

    def forward(self, stems: torch.Tensor) -> torch.Tensor:
        if stems.dim() != 4 or stems.shape[2] != 2:
            raise ValueError(f"expected stems of shape (B, stems, 2, samples), got {tuple(stems.shape)}")
        left, right = stems[:, :, 0], stems[:, :, 1]
        if self.config.stereo == "midside":
            pair = torch.stack([(left + right) * 0.5, (left - right) * 0.5], dim=2)
        else:
            pair = stems
        power = self.mel(pair.float())  # B, S, 2, M, T
        return torch.log(power + self.config.log_floor)

    def num_frames(self, num_samples: int) -> int:
        return 1 + num_samples // self.config.hop_length
