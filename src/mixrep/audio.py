"""Audio input/output with soundfile, and conversion to the pipeline's format.

Inside the pipeline audio is float32, shape (2, samples), 44.1 kHz (DESIGN.md). Every reader here raises
`AudioError` naming the file and the problem, never a bare library traceback.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from mixrep.stems import SAMPLE_RATE

_SFC_SET_ADD_PEAK_CHUNK = 0x1050  # libsndfile's sf_command code (sndfile.h)
_BLOCK_FRAMES = 1 << 16  # frames decoded per read: a decoder error keeps what came before it
_WAV_FRAME_CODECS = {1, 3, 6, 7}  # PCM, IEEE float, A-law, mu-law: one frame per block_align bytes
_WAV_EXTENSIBLE = 0xFFFE
_OGG_TAIL_BYTES = 1 << 17  # an Ogg page is at most 65,307 bytes: the last complete one lies in this tail
_OGG_EOS = 0x04  # header_type flag of the last page of a logical stream


class AudioError(Exception):
    """A file that cannot be used as audio, with the reason."""

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


@dataclass(frozen=True)
class AudioInfo:
    """What the file header says."""

    path: str
    sample_rate: int
    channels: int
    frames: int
    format: str
    subtype: str

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def probe(path: str | Path) -> AudioInfo:
    """Read the header only."""
    try:
        info = sf.info(str(path))
    except Exception as exc:  # soundfile raises several types; all mean "not readable audio"
        raise AudioError(path, f"unreadable or not an audio file ({exc.__class__.__name__}: {exc})") from None
    return AudioInfo(str(path), int(info.samplerate), int(info.channels), int(info.frames),
                     str(info.format), str(info.subtype))


def declared_frames(path: str | Path, info: AudioInfo) -> int | None:
    """The frame count the file's container promises, or None where it promises none (Ogg).

    libsndfile clamps a WAV or AIFF header that promises more data than the file holds to what is there
    (`info.frames` of a WAV cut to 60 % is the 60 %), so for those the header is read here: WAV's `data`
    chunk size over the frame size (RF64: its `ds64` size; compressed codecs: the `fact` chunk), AIFF's
    `COMM` frame count; the larger of that and libsndfile's count is returned (a `fact` chunk that
    undercounts, as libsndfile writes for IMA ADPCM, then changes nothing). FLAC (STREAMINFO) and MP3 (Xing / LAME
    header) keep their promise in `info.frames`; Ogg has no total at all (see `ogg_stream_ended`).
    """
    fmt = info.format.upper()
    if fmt == "OGG":
        return None
    try:
        if fmt in ("WAV", "WAVEX", "RF64"):
            declared = _wav_declared_frames(Path(path))
        elif fmt in ("AIFF", "AIFC"):
            declared = _aiff_declared_frames(Path(path))
        else:
            declared = None
    except (OSError, struct.error):
        declared = None
    if declared is None:
        return info.frames if info.frames > 0 else None
    return max(declared, info.frames)


def _chunks(handle, end: int, big_endian: bool):
    """(id, size, data offset) of the RIFF / IFF chunks from the handle's position to `end`."""
    size_format = ">I" if big_endian else "<I"
    while handle.tell() + 8 <= end:
        chunk_id, raw_size = handle.read(4), handle.read(4)
        if len(raw_size) < 4:
            return
        size = struct.unpack(size_format, raw_size)[0]
        start = handle.tell()
        yield chunk_id, size, start
        handle.seek(start + size + (size & 1))


def _wav_declared_frames(path: Path) -> int | None:
    """Frames a RIFF/RF64 WAV declares: data size / frame size (PCM, float, A-/mu-law), else its `fact`."""
    with path.open("rb") as handle:
        magic = handle.read(4)
        handle.read(4)
        if magic not in (b"RIFF", b"RF64") or handle.read(4) != b"WAVE":
            return None  # RIFX, or not a WAV: libsndfile's own count stands
        block_align = tag = fact = ds64_data = None
        for chunk_id, size, start in _chunks(handle, 1 << 62, big_endian=False):
            if chunk_id == b"ds64" and size >= 16:  # RF64: the 64-bit sizes the 32-bit fields cannot hold
                _, ds64_data = struct.unpack("<QQ", handle.read(16))
            elif chunk_id == b"fmt ":
                tag, _, _, _, block_align = struct.unpack("<HHIIH", handle.read(14))
                if tag == _WAV_EXTENSIBLE and size >= 40:
                    handle.seek(start + 24)
                    tag = struct.unpack("<H", handle.read(2))[0]  # the sub-format GUID's first field
            elif chunk_id == b"fact" and size >= 4:
                fact = struct.unpack("<I", handle.read(4))[0]  # frames of a compressed codec
            elif chunk_id == b"data":
                if size == 0xFFFFFFFF and ds64_data is not None:
                    size = ds64_data
                if tag in _WAV_FRAME_CODECS and block_align and size not in (0, 0xFFFFFFFF):
                    return size // block_align
                return fact or None  # ADPCM, GSM: bytes do not map to frames; `fact` says how many
                # (0 / 0xFFFFFFFF without ds64: the size a streaming writer leaves unset: no length declared)
    return None


def _aiff_declared_frames(path: Path) -> int | None:
    with path.open("rb") as handle:
        if handle.read(4) != b"FORM":
            return None
        handle.read(4)
        if handle.read(4) not in (b"AIFF", b"AIFC"):
            return None
        for chunk_id, _, _ in _chunks(handle, 1 << 62, big_endian=True):
            if chunk_id == b"COMM":
                _, frames = struct.unpack(">HI", handle.read(6))
                return int(frames)
    return None


def ogg_stream_ended(path: str | Path) -> bool:
    """Whether the file's last complete Ogg page carries the end-of-stream flag.

    Ogg promises no total length, and libsndfile reports the frames up to the last complete page, so a
    cut Ogg file reads as a shorter, intact one. The tell is its end: a finished stream's last page is
    flagged end-of-stream; a cut file stops mid-page (the last complete page is an earlier one, without
    the flag) or on a page boundary before the flagged page. Bytes after a flagged page (padding, a tag)
    are not a cut.
    """
    path = Path(path)
    size = path.stat().st_size
    with path.open("rb") as handle:
        handle.seek(max(0, size - _OGG_TAIL_BYTES))
        tail = handle.read()
    position = tail.rfind(b"OggS")
    while position >= 0:
        header = tail[position:position + 27]
        if len(header) == 27 and header[4] == 0:  # stream structure version 0
            segments = header[26]
            table = tail[position + 27:position + 27 + segments]
            page_end = position + 27 + segments + sum(table)
            if len(table) == segments and page_end <= len(tail):
                return bool(header[5] & _OGG_EOS)
        position = tail.rfind(b"OggS", 0, position)
    return False


@dataclass(frozen=True)
class Decoded:
    """A decoded file and, when it is cut short, what it promised.

    `truncation` says why the audio is incomplete (None when it is not), in seconds and frames:
    ``decoded 7.20 s of 12.00 s declared (317515 of 529200 frames)``.
    """

    audio: np.ndarray  # float32 (channels, frames)
    sample_rate: int
    truncation: str | None = None


def decode(path: str | Path) -> Decoded:
    """Decode a whole file block by block, and find out whether it holds all its header promised.

    Three ways a cut file shows: fewer frames than the container declares (WAV/AIFF header,
    FLAC STREAMINFO, MP3 Xing header; soundfile reads a cut MP3 without raising); a decoder error after
    some audio came out (a cut FLAC), which keeps the audio decoded so far; an Ogg stream without its
    end-of-stream page. A decoder error before any audio is `AudioError` ("decoding failed").
    """
    info = probe(path)
    declared = declared_frames(path, info)
    buffer = np.empty((max(info.frames, 0), info.channels), dtype=np.float32)
    done, failure = 0, None
    try:
        with sf.SoundFile(str(path)) as handle:
            while True:
                if done == buffer.shape[0]:  # the header undercounted: grow
                    buffer = np.concatenate([buffer, np.empty((_BLOCK_FRAMES, info.channels), np.float32)])
                count = min(_BLOCK_FRAMES, buffer.shape[0] - done)
                block = handle.read(dtype="float32", always_2d=True, out=buffer[done:done + count])
                if block.shape[0] == 0:
                    break
                done += block.shape[0]
    except Exception as exc:  # soundfile raises several types; the audio decoded so far stays
        failure = f"{exc.__class__.__name__}: {exc}"
        if done == 0:
            raise AudioError(path, f"decoding failed ({failure})") from None
    audio = np.ascontiguousarray(buffer[:done].T)
    rate = info.sample_rate
    truncation = None
    if declared is not None and done < declared:
        truncation = (f"decoded {done / rate:.2f} s of {declared / rate:.2f} s declared "
                      f"({done} of {declared} frames)")
        if failure:
            truncation += f"; the decoder stopped ({failure})"
    elif failure:
        raise AudioError(path, f"decoding failed after {done} frames ({failure})")
    elif info.format.upper() == "OGG" and not ogg_stream_ended(path):
        truncation = (f"decoded {done / rate:.2f} s; the Ogg stream ends without its end-of-stream page "
                      f"(the file is cut)")
    return Decoded(audio, rate, truncation)


def read_audio(path: str | Path, *, check_frames: bool = True) -> tuple[np.ndarray, int]:
    """Decode a whole file to float32 (channels, samples).

    With `check_frames`, a file that holds less than its header promises is an error (`decode`).
    """
    decoded = decode(path)
    if check_frames and decoded.truncation:
        raise AudioError(path, f"truncated: {decoded.truncation}")
    return decoded.audio, decoded.sample_rate


def to_pipeline_format(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, list[str]]:
    """Resample to 44.1 kHz and make stereo; return the audio and notes of what was changed."""
    notes: list[str] = []
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[None, :]
    if audio.shape[0] == 1:
        audio = np.repeat(audio, 2, axis=0)
        notes.append("mono duplicated to stereo")
    elif audio.shape[0] > 2:
        notes.append(f"kept the first 2 of {audio.shape[0]} channels")
        audio = audio[:2]
    if sample_rate != SAMPLE_RATE:
        g = gcd(int(sample_rate), SAMPLE_RATE)
        audio = resample_poly(audio, SAMPLE_RATE // g, int(sample_rate) // g, axis=1).astype(np.float32)
        notes.append(f"resampled {sample_rate} Hz -> {SAMPLE_RATE} Hz")
    return np.ascontiguousarray(audio, dtype=np.float32), notes


def load_audio(path: str | Path) -> tuple[np.ndarray, list[str]]:
    """Read a file and convert it to the pipeline format (float32, (2, N), 44.1 kHz)."""
    data, rate = read_audio(path)
    return to_pipeline_format(data, rate)


def write_audio(path: str | Path, audio: np.ndarray, sample_rate: int = SAMPLE_RATE,
                subtype: str = "FLOAT") -> Path:
    """Write (channels, samples) audio; float WAV by default so no value is clipped or rounded."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[None, :]
    with sf.SoundFile(str(path), "w", sample_rate, audio.shape[0], subtype=subtype) as handle:
        if subtype in ("FLOAT", "DOUBLE"):
            # libsndfile stamps float WAVs with a PEAK chunk holding the time of writing; without it the
            # same audio gives the same bytes (reproducible outputs, stable hashes).
            sf._snd.sf_command(handle._file, _SFC_SET_ADD_PEAK_CHUNK, sf._ffi.NULL, 0)
        handle.write(audio.T)
    return path


# How stems are stored (separation.stem_format): extension of each format. FLAC is integer audio, so flac24 keeps
# each stem file at 24 bits relative to its own power-of-two gain (see write_flac24); float32 is exact.
STEM_FORMATS: dict[str, str] = {"flac24": ".flac", "float32": ".wav"}
STEM_GAINS_FILE = "gains.json"  # {stem: gain} of a flac24 folder: stored audio x gain = the stem
_PCM24 = 1 << 23  # full scale of 24-bit PCM: samples q in [-2**23, 2**23 - 1] stand for q / 2**23


def flac24_gain(audio: np.ndarray) -> float:
    """The power of two g with peak / g just within 24-bit full scale (1 for silence).

    A power of two makes the scaling exact in float32, and puts the quantisation step at g * 2**-23 <=
    peak * 2**-22, i.e. error <= g * 2**-24 <= 2**-23 x peak whatever the level: stems above +-1 (a separator's
    output often is) are stored without clipping, quiet stems keep 24 bits of their own range.
    """
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak == 0.0:
        return 1.0
    gain = 2.0 ** np.ceil(np.log2(peak))
    return float(gain * 2.0 if peak / gain > (_PCM24 - 1) / _PCM24 else gain)


def write_flac24(path: str | Path, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> float:
    """Write (channels, samples) audio as 24-bit FLAC scaled by `flac24_gain`; return that gain.

    The samples are rounded here (q = rint(x / g * 2**23)) and handed to libsndfile as int32 (q << 8), so the
    file holds exactly q: libsndfile's own float -> 24-bit path scales by 2**23 - 1 and reads back by 2**23.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    audio = np.asarray(audio, dtype=np.float64)
    if audio.ndim == 1:
        audio = audio[None, :]
    gain = flac24_gain(audio)
    q = np.clip(np.rint(audio / gain * _PCM24), -_PCM24, _PCM24 - 1).astype(np.int32)
    with sf.SoundFile(str(path), "w", sample_rate, audio.shape[0], subtype="PCM_24", format="FLAC") as handle:
        handle.write(np.ascontiguousarray((q << 8).T))
    return gain


def stem_ext(stem_dir: str | Path) -> str:
    """The extension the stems of a folder have: `.flac` where the first stem is FLAC, else `.wav`."""
    from mixrep.stems import STEMS

    return ".flac" if (Path(stem_dir) / f"{STEMS[0]}.flac").is_file() else ".wav"


def read_stem_gains(stem_dir: str | Path) -> dict[str, float]:
    """Gains of a flac24 folder (`STEM_GAINS_FILE`); none (all 1) for float WAV or FLAC written elsewhere."""
    import json

    path = Path(stem_dir) / STEM_GAINS_FILE
    if not path.is_file():
        return {}
    try:
        gains = json.loads(path.read_text())
        return {str(name): float(value) for name, value in gains.items()}
    except (ValueError, AttributeError, TypeError) as exc:
        raise AudioError(path, f"not a JSON object of stem gains ({exc})") from None


def read_stems(stem_dir: str | Path, ext: str | None = None) -> np.ndarray:
    """The four stems of one track folder as float32 (4, 2, N) in STEMS order (pipeline format).

    The format is found from the files (`stem_ext`: FLAC or WAV), so callers need not know how the separation
    stage stored them; a flac24 folder's gains are applied (powers of two: exact).
    """
    from mixrep.stems import STEMS

    ext = ext or stem_ext(stem_dir)
    gains = read_stem_gains(stem_dir) if ext == ".flac" else {}
    stems = []
    for name in STEMS:
        audio, _ = load_audio(Path(stem_dir) / f"{name}{ext}")
        gain = gains.get(name, 1.0)
        stems.append(audio * np.float32(gain) if gain != 1.0 else audio)
    length = min(s.shape[1] for s in stems)
    if any(s.shape[1] != length for s in stems):
        raise AudioError(stem_dir, f"stems differ in length ({[s.shape[1] for s in stems]} samples)")
    return np.stack(stems)


def write_stems(stem_dir: str | Path, stems: np.ndarray, sample_rate: int = SAMPLE_RATE,
                ext: str = ".wav", stem_format: str | None = None) -> list[Path]:
    """Write (4, 2, N) stems in STEMS order as <stem_dir>/<stem><ext>.

    `stem_format` (a key of STEM_FORMATS) overrides `ext`: float32 = float WAV (exact), flac24 = 24-bit FLAC
    with the per-stem gains in <stem_dir>/gains.json. Files of the other format are removed, so a folder never
    holds both (readers pick by extension).
    """
    import json

    from mixrep.stems import STEMS

    if stems.shape[0] != len(STEMS):
        raise ValueError(f"expected {len(STEMS)} stems, got array of shape {stems.shape}")
    if stem_format is not None and stem_format not in STEM_FORMATS:
        raise ValueError(f"stem format must be one of {sorted(STEM_FORMATS)}, got {stem_format!r}")
    ext = STEM_FORMATS[stem_format] if stem_format else ext
    stem_dir = Path(stem_dir)
    for other in {".wav", ".flac"} - {ext}:
        for name in STEMS:
            (stem_dir / f"{name}{other}").unlink(missing_ok=True)
    if ext != ".flac":
        (stem_dir / STEM_GAINS_FILE).unlink(missing_ok=True)
        return [write_audio(stem_dir / f"{name}{ext}", stem, sample_rate) for name, stem in zip(STEMS, stems)]
    gains = {name: write_flac24(stem_dir / f"{name}{ext}", stem, sample_rate) for name, stem in zip(STEMS, stems)}
    (stem_dir / STEM_GAINS_FILE).write_text(json.dumps(gains, sort_keys=True) + "\n")
    return [stem_dir / f"{name}{ext}" for name in STEMS]


# Streaming read and write (the separation stage's long tracks): the same checks and bytes as the whole-file
# functions above, with memory bounded by one block instead of the track.


def stream_blocks(path: str | Path, block_frames: int = _BLOCK_FRAMES):
    """Yield a file's audio as float32 (channels, frames) blocks, then check it was complete.

    The streaming twin of `read_audio(path)` (check_frames=True): the same blocks of `decode`, and after the
    last one the same verdicts: `AudioError` "decoding failed (...)" when nothing decoded, "truncated: ..."
    with `decode`'s wording when fewer frames came out than declared (or an Ogg stream lacks its end page),
    "decoding failed after N frames (...)" for a decoder error otherwise. A consumer must therefore treat
    what it built from the blocks as provisional until the generator is exhausted.
    """
    info = probe(path)
    declared = declared_frames(path, info)
    done, failure = 0, None
    try:
        with sf.SoundFile(str(path)) as handle:
            while True:
                block = handle.read(block_frames, dtype="float32", always_2d=True)
                if block.shape[0] == 0:
                    break
                done += block.shape[0]
                yield np.ascontiguousarray(block.T)
    except AudioError:
        raise
    except Exception as exc:  # soundfile raises several types; as in `decode`
        failure = f"{exc.__class__.__name__}: {exc}"
        if done == 0:
            raise AudioError(path, f"decoding failed ({failure})") from None
    rate = info.sample_rate
    if declared is not None and done < declared:
        truncation = (f"decoded {done / rate:.2f} s of {declared / rate:.2f} s declared "
                      f"({done} of {declared} frames)")
        if failure:
            truncation += f"; the decoder stopped ({failure})"
        raise AudioError(path, f"truncated: {truncation}")
    if failure:
        raise AudioError(path, f"decoding failed after {done} frames ({failure})")
    if info.format.upper() == "OGG" and not ogg_stream_ended(path):
        raise AudioError(path, f"truncated: decoded {done / rate:.2f} s; the Ogg stream ends without its "
                               "end-of-stream page (the file is cut)")


def to_pipeline_channels(block: np.ndarray) -> np.ndarray:
    """A (channels, n) block made stereo as `to_pipeline_format` does (mono duplicated, first 2 kept)."""
    block = np.asarray(block, dtype=np.float32)
    if block.shape[0] == 1:
        return np.repeat(block, 2, axis=0)
    return np.ascontiguousarray(block[:2])


def open_float_wav(path: str | Path, channels: int, sample_rate: int = SAMPLE_RATE) -> sf.SoundFile:
    """A float WAV open for block-wise `write((frames, channels))`; the bytes of `write_audio` (no PEAK chunk)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = sf.SoundFile(str(path), "w", sample_rate, channels, subtype="FLOAT")
    sf._snd.sf_command(handle._file, _SFC_SET_ADD_PEAK_CHUNK, sf._ffi.NULL, 0)
    return handle


def flac24_gain_of_peak(peak: float) -> float:
    """`flac24_gain` from a peak found while streaming (the same power of two)."""
    return flac24_gain(np.array([peak], dtype=np.float64))


def float_wav_to_flac24(source: str | Path, path: str | Path, gain: float,
                        block_frames: int = _BLOCK_FRAMES) -> None:
    """Convert a float WAV into 24-bit FLAC scaled by `gain`, block by block: the bytes of `write_flac24`.

    Each sample goes through `write_flac24`'s arithmetic (float64, divide by the gain, rint, clip, << 8), so a
    float WAV of audio x converted with gain `flac24_gain(x)` equals `write_flac24(path, x)`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with sf.SoundFile(str(source)) as reader, sf.SoundFile(str(path), "w", reader.samplerate, reader.channels,
                                                           subtype="PCM_24", format="FLAC") as writer:
        for block in reader.blocks(block_frames, dtype="float32", always_2d=True):
            audio = block.astype(np.float64)
            q = np.clip(np.rint(audio / gain * _PCM24), -_PCM24, _PCM24 - 1).astype(np.int32)
            writer.write(np.ascontiguousarray(q << 8))
