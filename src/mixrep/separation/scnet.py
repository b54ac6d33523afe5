"""SCNet: Sparse Compression Network for music source separation (Tong et al., ICASSP 2024).

A re-implementation of the published architecture (arXiv:2401.13276, reference code
github.com/starrytong/SCNet) whose module tree, parameter names and forward pass match the official
model, so that the published checkpoints load with `strict=True` and give the same output.

Structure (B = batch, C = channels, F = frequency bins, T = frames):

    waveform --STFT--> (B, 2*audio_channels, F, T), normalised per example
      encoder: SD blocks; each splits F into low/mid/high bands, down-samples every band with its own
               strided conv (SD layer), runs a per-band conv module along time, then a 3x3 conv
      separation net: dual-path RNN layers (LSTM across frequency then across time); between them the
               features move to and from a real FFT along time (rfft / irfft, ortho norm)
      decoder: fusion layer (skip + GLU conv) and SU layer (per-band transposed conv) per block
    --denormalise--> complex spectra per source --iSTFT--> (B, sources, audio_channels, samples)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from mixrep.separation.scnet_entry import SCNET_ORDER, SCNetModelSettings

BAND_NAMES = ("low", "mid", "high")

# Constructor arguments of the published models (official conf/config.yaml and the paper's large variant).
SMALL_KWARGS: dict = {
    "sources": list(SCNET_ORDER),
    "audio_channels": 2,
    "dims": [4, 32, 64, 128],
    "nfft": 4096,
    "hop_size": 1024,
    "win_size": 4096,
    "normalized": True,
    "band_SR": [0.175, 0.392, 0.433],
    "band_stride": [1, 4, 16],
    "band_kernel": [3, 4, 16],
    "conv_depths": [3, 2, 1],
    "compress": 4,
    "conv_kernel": 3,
    "num_dplayer": 6,
    "expand": 1,
}
LARGE_KWARGS: dict = {**SMALL_KWARGS, "dims": [4, 64, 128, 256], "band_SR": [0.225, 0.372, 0.403]}
# mixrep's CPU-sized default (the defaults of `separation.model`): fewer channels, half the STFT size, one conv
# layer per band, two dual-path layers; trains in minutes on two cores.
CPU_KWARGS: dict = SCNetModelSettings().kwargs()
PRESETS: dict[str, dict] = {"small": SMALL_KWARGS, "large": LARGE_KWARGS, "cpu": CPU_KWARGS}


@dataclass(frozen=True)
class Band:
    """One frequency band of the SD/SU layers: its share of the bins, down-sampling stride and kernel."""

    share: float
    stride: int
    kernel: int


class ConvolutionModule(nn.Module):
    """Residual stack of depthwise-separable 1-D convolutions along time (the SD block's conv module).

    Each layer: GroupNorm -> pointwise conv to 2*hidden -> GLU -> depthwise conv -> GroupNorm -> Swish
    -> pointwise conv back to `channels`; the layer's output is added to its input.

    Args:
        channels: input and output channels.
        depth: number of residual layers.
        compress: channel compression of the hidden layer (hidden = channels / compress).
        kernel: odd kernel size of the convolutions.
    """

    def __init__(self, channels: int, depth: int = 2, compress: float = 4, kernel: int = 3):
        super().__init__()
        if kernel % 2 != 1:
            raise ValueError(f"conv_kernel must be odd, got {kernel}")
        hidden = int(channels / compress)
        pad = kernel // 2
        self.layers = nn.ModuleList(
            nn.Sequential(
                nn.GroupNorm(1, channels),
                nn.Conv1d(channels, 2 * hidden, kernel, padding=pad),
                nn.GLU(dim=1),
                nn.Conv1d(hidden, hidden, kernel, padding=pad, groups=hidden),
                nn.GroupNorm(1, hidden),
                nn.SiLU(),  # Swish: x * sigmoid(x)
                nn.Conv1d(hidden, channels, 1),
            )
            for _ in range(abs(depth))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, T)
        for layer in self.layers:
            x = x + layer(x)
        return x


class FusionLayer(nn.Module):
    """Decoder fusion: add the encoder skip, duplicate the channels, 2-D conv, GLU back to `channels`.

    Args:
        channels: channels of the decoder input (and output).
        kernel_size, stride, padding: of the 2-D convolution.
    """

    def __init__(self, channels: int, kernel_size: int = 3, stride: int = 1, padding: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(2 * channels, 2 * channels, kernel_size, stride=stride, padding=padding)

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        if skip is not None:
            x = x + skip
        x = torch.cat([x, x], dim=1)  # B, 2C, F, T
        return F.glu(self.conv(x), dim=1)  # B, C, F, T


def band_splits(num_bins: int, bands: tuple[Band, ...]) -> list[tuple[int, int]]:
    """(start, end) bin ranges of the low/mid/high bands: the first two rounded up, the last takes the rest."""
    low_end = math.ceil(num_bins * bands[0].share)
    mid_end = math.ceil(num_bins * (bands[0].share + bands[1].share))
    return [(0, low_end), (low_end, mid_end), (mid_end, num_bins)]


class SDlayer(nn.Module):
    """Sparse down-sample layer: one strided (kernel x 1) conv per frequency band.

    The low band keeps its resolution (stride 1, 'same' padding); the others are zero-padded to a
    multiple of their stride and compressed by it, so high frequencies cost fewer positions.

    Args:
        channels_in, channels_out: channels before and after the layer.
        bands: the three bands (share of bins, stride, kernel).
    """

    def __init__(self, channels_in: int, channels_out: int, bands: tuple[Band, ...]):
        super().__init__()
        self.bands = bands
        self.convs = nn.ModuleList(
            nn.Conv2d(channels_in, channels_out, (band.kernel, 1), (band.stride, 1)) for band in bands
        )

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[int]]:  # x: B, C, F, T
        outputs, lengths = [], []
        for conv, band, (start, end) in zip(self.convs, self.bands, band_splits(x.shape[2], self.bands)):
            part = x[:, :, start:end, :]
            size = end - start
            total = band.kernel - 1 if band.stride == 1 else (-size) % band.stride
            part = F.pad(part, (0, 0, total // 2, total - total // 2))
            outputs.append(conv(part))  # B, C_out, f_band, T
            lengths.append(size)
        return outputs, lengths


class SUlayer(nn.Module):
    """Sparse up-sample layer: one transposed (kernel x 1) conv per band, trimmed back to the band's size.

    Args:
        channels_in, channels_out: channels before and after the layer.
        bands: the three bands, as in the matching SD layer.
    """

    def __init__(self, channels_in: int, channels_out: int, bands: tuple[Band, ...]):
        super().__init__()
        self.convtrs = nn.ModuleList(
            nn.ConvTranspose2d(channels_in, channels_out, (band.kernel, 1), (band.stride, 1)) for band in bands
        )

    def forward(self, x: torch.Tensor, lengths: list[int], original_lengths: list[int]) -> torch.Tensor:
        bounds = [0, lengths[0], lengths[0] + lengths[1], x.shape[2]]
        outputs = []
        for index, convtr in enumerate(self.convtrs):
            out = convtr(x[:, :, bounds[index]:bounds[index + 1], :])
            target = original_lengths[index]
            offset = abs(target - out.shape[2]) // 2  # trim symmetrically
            outputs.append(out[:, :, offset:offset + target, :])
        return torch.cat(outputs, dim=2)  # B, C_out, F, T


class SDblock(nn.Module):
    """Encoder block: SD layer, a conv module per band (along time, GELU after), a global 2-D conv.

    Args:
        channels_in, channels_out: channels before and after the block.
        bands: the three frequency bands.
        depths: residual depth of the conv module of each band (low, mid, high).
        compress, conv_kernel: of the conv modules.
        kernel_size: odd kernel of the global conv.

    Returns from forward: the block output, the skip (before the global conv), the band sizes after
    down-sampling, and the band sizes before it (the SU layer needs both).
    """

    def __init__(self, channels_in: int, channels_out: int, bands: tuple[Band, ...], depths: list[int],
                 compress: float = 4, conv_kernel: int = 3, kernel_size: int = 3):
        super().__init__()
        self.SDlayer = SDlayer(channels_in, channels_out, bands)
        self.conv_modules = nn.ModuleList(
            ConvolutionModule(channels_out, depth, compress, conv_kernel) for depth in depths
        )
        self.globalconv = nn.Conv2d(channels_out, channels_out, kernel_size, 1, (kernel_size - 1) // 2)

    def forward(self, x: torch.Tensor):
        parts, original_lengths = self.SDlayer(x)
        processed = []
        for conv, part in zip(self.conv_modules, parts):
            b, c, f, t = part.shape
            rows = part.permute(0, 2, 1, 3).reshape(b * f, c, t)  # every bin is a 1-D sequence over time
            rows = conv(rows).view(b, f, c, t).permute(0, 2, 1, 3)  # B, C, f, T
            processed.append(F.gelu(rows))
        lengths = [part.shape[2] for part in processed]
        skip = torch.cat(processed, dim=2)
        return self.globalconv(skip), skip, lengths, original_lengths


class FeatureConversion(nn.Module):
    """Moves features to (rfft along time, real and imaginary parts stacked on channels) or back (irfft).

    Has no parameters; it lives in the module tree only to keep the official layout.

    Args:
        channels: channels of the frequency-domain representation (2x the time-domain ones).
        inverse: False = rfft, True = irfft.
    """

    def __init__(self, channels: int, inverse: bool):
        super().__init__()
        self.channels = channels
        self.inverse = inverse

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float()
        if self.inverse:
            half = self.channels // 2
            spectrum = torch.complex(x[:, :half], x[:, half:])
            return torch.fft.irfft(spectrum, dim=3, norm="ortho")  # B, C/2, F, T
        spectrum = torch.fft.rfft(x, dim=3, norm="ortho")
        return torch.cat([spectrum.real, spectrum.imag], dim=1)  # B, 2C, F, T//2+1


class DualPathRNN(nn.Module):
    """One dual-path layer: a bidirectional LSTM across frequency, then one across time, each residual.

    Args:
        d_model: feature channels.
        expand: LSTM hidden size = d_model * expand.
        bidirectional: bidirectional LSTMs (the published model uses True).
    """

    def __init__(self, d_model: int, expand: int = 1, bidirectional: bool = True):
        super().__init__()
        hidden = d_model * expand
        directions = 2 if bidirectional else 1
        self.lstm_layers = nn.ModuleList(
            nn.LSTM(d_model, hidden, num_layers=1, bidirectional=bidirectional, batch_first=True)
            for _ in range(2)
        )
        self.linear_layers = nn.ModuleList(nn.Linear(hidden * directions, d_model) for _ in range(2))
        self.norm_layers = nn.ModuleList(nn.GroupNorm(1, d_model) for _ in range(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, f, t = x.shape
        # frequency path: sequences over F, one per (example, frame)
        y = self.norm_layers[0](x).permute(0, 3, 2, 1).reshape(b * t, f, c)
        y = self.linear_layers[0](self.lstm_layers[0](y)[0])
        x = x + y.view(b, t, f, c).permute(0, 3, 2, 1)
        # time path: sequences over T, one per (example, bin)
        y = self.norm_layers[1](x).permute(0, 2, 3, 1).reshape(b * f, t, c)
        y = self.linear_layers[1](self.lstm_layers[1](y)[0])
        return x + y.view(b, f, t, c).permute(0, 3, 1, 2)


class SeparationNet(nn.Module):
    """Stack of dual-path layers; odd layers work on the rfft-along-time features (twice the channels).

    Args:
        channels: channels of the encoder output.
        expand: LSTM expansion factor.
        num_layers: number of dual-path layers (even, so the features end in the time domain).
    """

    def __init__(self, channels: int, expand: int = 1, num_layers: int = 6):
        super().__init__()
        if num_layers % 2:
            raise ValueError(f"num_dplayer must be even (rfft/irfft alternate), got {num_layers}")
        self.dp_modules = nn.ModuleList(
            DualPathRNN(channels * (2 if index % 2 else 1), expand) for index in range(num_layers)
        )
        self.feature_conversion = nn.ModuleList(
            FeatureConversion(2 * channels, inverse=bool(index % 2)) for index in range(num_layers)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for dual_path, conversion in zip(self.dp_modules, self.feature_conversion):
            x = conversion(dual_path(x))
        return x


class SCNet(nn.Module):
    """The SCNet separator: waveform mixture in, one waveform per source out.

    Args:
        sources: names of the output sources, in output order (published: drums, bass, other, vocals).
        audio_channels: channels of the waveform (2 = stereo).
        dims: channels of the spectrogram input (2 * audio_channels) and after each SD block.
        nfft, hop_size, win_size: STFT framing (rectangular window, centred frames).
        normalized: STFT normalised by 1/sqrt(nfft).
        band_SR: share of the frequency bins in the low, mid and high bands.
        band_stride: down-sampling factor of each band.
        band_kernel: kernel (along frequency) of each band's down-sampling conv.
        conv_depths: residual depth of the conv module of each band.
        compress: channel compression inside the conv modules.
        conv_kernel: kernel of the conv modules along time.
        num_dplayer: number of dual-path RNN layers.
        expand: LSTM hidden-size factor.
    """

    def __init__(self, sources: list[str] = list(SCNET_ORDER), audio_channels: int = 2,
                 dims: list[int] = (4, 32, 64, 128), nfft: int = 4096, hop_size: int = 1024,
                 win_size: int = 4096, normalized: bool = True,
                 band_SR: list[float] = (0.175, 0.392, 0.433), band_stride: list[int] = (1, 4, 16),
                 band_kernel: list[int] = (3, 4, 16), conv_depths: list[int] = (3, 2, 1),
                 compress: float = 4, conv_kernel: int = 3, num_dplayer: int = 6, expand: int = 1):
        super().__init__()
        if len(band_SR) != 3 or len(band_stride) != 3 or len(band_kernel) != 3 or len(conv_depths) != 3:
            raise ValueError("band_SR, band_stride, band_kernel and conv_depths need 3 entries (low, mid, high)")
        if dims[0] != 2 * audio_channels:
            raise ValueError(f"dims[0] must be 2 * audio_channels = {2 * audio_channels}, got {dims[0]}")
        self.sources = list(sources)
        self.audio_channels = audio_channels
        self.dims = list(dims)
        self.hop_length = hop_size
        self.nfft = nfft
        self.win_size = win_size
        self.normalized = normalized
        bands = tuple(Band(float(s), int(st), int(k)) for s, st, k in zip(band_SR, band_stride, band_kernel))

        self.encoder = nn.ModuleList()
        decoders = []
        for index in range(len(dims) - 1):
            self.encoder.append(SDblock(dims[index], dims[index + 1], bands, list(conv_depths),
                                        compress, conv_kernel))
            out_channels = dims[index] * len(self.sources) if index == 0 else dims[index]
            decoders.append(nn.Sequential(FusionLayer(dims[index + 1]),
                                          SUlayer(dims[index + 1], out_channels, bands)))
        self.decoder = nn.ModuleList(reversed(decoders))  # deepest block first
        self.separation_net = SeparationNet(dims[-1], expand, num_dplayer)

    # ----------------------------------------------------------------- framing
    def padding_for(self, length: int) -> int:
        """Right padding (>= 1 sample) that makes the centred STFT frame count even (needed by the rfft path)."""
        hop = self.hop_length
        padding = hop - length % hop
        if ((length + padding) // hop) % 2 == 0:
            padding += hop
        return padding

    def _stft_args(self, device: torch.device, dtype: torch.dtype) -> dict:
        # The official model passes no window: torch then uses a rectangular one; said explicitly here.
        return {"n_fft": self.nfft, "hop_length": self.hop_length, "win_length": self.win_size,
                "window": torch.ones(self.win_size, device=device, dtype=dtype),
                "center": True, "normalized": self.normalized}

    def forward(self, mix: torch.Tensor) -> torch.Tensor:
        """(B, audio_channels, L) -> (B, len(sources), audio_channels, L)."""
        batch, channels, length = mix.shape
        if channels != self.audio_channels:
            raise ValueError(f"expected {self.audio_channels} audio channels, got input of shape {tuple(mix.shape)}")
        padding = self.padding_for(length)
        if length + padding <= self.nfft // 2:
            raise ValueError(f"input of {length} samples is too short for nfft {self.nfft} "
                             f"(centred STFT frames need more than {self.nfft // 2} samples)")
        x = F.pad(mix, (0, padding))
        stft = self._stft_args(x.device, x.dtype)
        spec = torch.view_as_real(torch.stft(x.reshape(-1, x.shape[-1]), **stft, return_complex=True))
        bins, frames = spec.shape[1], spec.shape[2]
        # (B*C, F, T, 2) -> (B, C*2, F, T): channel 2c holds the real, 2c+1 the imaginary part of channel c
        x = spec.permute(0, 3, 1, 2).reshape(batch, 2 * channels, bins, frames)

        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        std = x.std(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) / (1e-5 + std)

        skips, lengths, original_lengths = [], [], []
        for block in self.encoder:
            x, skip, band_lengths, band_original = block(x)
            skips.append(skip)
            lengths.append(band_lengths)
            original_lengths.append(band_original)

        x = self.separation_net(x)

        for fusion, up in self.decoder:
            x = fusion(x, skips.pop())
            x = up(x, lengths.pop(), original_lengths.pop())

        # B, S*C*2, F, T -> per source and channel a complex spectrum
        x = x * std + mean
        x = x.reshape(batch * len(self.sources) * channels, 2, bins, frames).permute(0, 2, 3, 1)
        wave = torch.istft(torch.view_as_complex(x.contiguous()), **stft)
        wave = wave.reshape(batch, len(self.sources), channels, -1)
        return wave[..., :length]
