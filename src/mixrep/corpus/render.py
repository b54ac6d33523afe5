"""Render one stem's MIDI instruments to dry stereo audio with FluidSynth and a General MIDI soundfont.

Two deterministic back ends give the same kind of output (reverb and chorus off, stereo, 44.1 kHz, trimmed
to the exact length):

- ``library`` (default): libfluidsynth called in-process through ctypes. A fresh synthesizer is made for every
  stem (FluidSynth keeps per-voice state across notes, so reusing one would make a stem depend on the stems
  rendered before it, i.e. on the order of the process pool), while the soundfont's samples stay in
  FluidSynth's per-process sample cache. Events are placed on FluidSynth's 64-sample block grid, so timing
  never depends on where the synthesizer's internal buffer happens to be.
- ``cli``: the ``fluidsynth`` program (``fluidsynth -ni -R 0 -C 0 -r 44100 -O float -F out.wav sf2 in.mid``).
  It reloads the soundfont for every stem and is ~4.6x slower, but needs no shared library.

benchmarks/corpus.py (6 s stems, FluidR3_GM): library 0.14 s per stem, CLI 0.63 s per stem (4.6x).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pretty_midi
import soundfile as sf

from mixrep.stems import SAMPLE_RATE

DEBIAN_SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
BLOCK = 64  # FluidSynth's internal block size in samples
RENDERERS = ("auto", "library", "cli")


class RenderError(RuntimeError):
    """FluidSynth or the soundfont is missing or failed, with what to install."""


def default_soundfonts() -> list[Path]:
    """Where a General MIDI soundfont is looked for, best first."""
    return [DEBIAN_SOUNDFONT, Path(pretty_midi.__file__).resolve().parent / "TimGM6mb.sf2"]


def find_soundfont(explicit: str | Path | None = None) -> Path:
    """The General MIDI soundfont to use: `explicit`, else Debian's FluidR3_GM, else pretty_midi's TimGM6mb.

    FluidR3_GM (Debian package `fluid-soundfont-gm`) sounds far better; pretty_midi's small soundfont is
    only the fallback so that a plain `pip install` still renders.
    """
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise RenderError(f"soundfont {path} (synthetic.soundfont) does not exist")
        return path
    candidates = default_soundfonts()
    for path in candidates:
        if path.is_file():
            return path
    raise RenderError(
        "no General MIDI soundfont found (looked for "
        + ", ".join(str(p) for p in candidates)
        + "); install the Debian package fluid-soundfont-gm (apt-get install fluid-soundfont-gm fluidsynth) "
        "or set synthetic.soundfont to an .sf2 file")


# ------------------------------------------------------------------------------------ libfluidsynth
@lru_cache(maxsize=1)
def _library() -> ctypes.CDLL:
    """libfluidsynth with the prototypes used here (loaded once per process)."""
    names = [ctypes.util.find_library("fluidsynth"), "libfluidsynth.so.3", "libfluidsynth.so.2", "libfluidsynth.so"]
    lib = None
    for name in names:
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError:
            continue
    if lib is None:
        raise RenderError("libfluidsynth not found; install the Debian package fluidsynth (libfluidsynth3) "
                          "or set synthetic.renderer: cli")
    vp, ci, cs = ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p
    prototypes = {
        "new_fluid_settings": ([], vp), "delete_fluid_settings": ([vp], None),
        "fluid_settings_setint": ([vp, cs, ci], ci), "fluid_settings_setnum": ([vp, cs, ctypes.c_double], ci),
        "new_fluid_synth": ([vp], vp), "delete_fluid_synth": ([vp], None),
        "fluid_synth_sfload": ([vp, cs, ci], ci),
        "fluid_synth_program_select": ([vp, ci, ci, ci, ci], ci),
        "fluid_synth_noteon": ([vp, ci, ci, ci], ci), "fluid_synth_noteoff": ([vp, ci, ci], ci),
        "fluid_synth_pitch_bend": ([vp, ci, ci], ci), "fluid_synth_cc": ([vp, ci, ci, ci], ci),
        "fluid_synth_write_float": ([vp, ci, vp, ci, ci, vp, ci, ci], ci),
    }
    for name, (args, res) in prototypes.items():
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = args, res
    return lib


@lru_cache(maxsize=4)
def _sample_cache_anchor(soundfont: str) -> int:
    """A synthesizer that only holds `soundfont` loaded, for the life of the process.

    FluidSynth shares a soundfont's samples between synthesizers of one process but frees them when the last
    user is deleted; without this anchor every per-stem synthesizer would re-read the whole file (150 MB for
    FluidR3_GM). It never renders, so it cannot carry state into any stem.
    """
    lib = _library()
    settings = lib.new_fluid_settings()
    synth = lib.new_fluid_synth(settings)
    if not synth or lib.fluid_synth_sfload(synth, soundfont.encode(), 0) < 0:
        raise RenderError(f"libfluidsynth could not load the soundfont {soundfont}")
    return synth


def library_available() -> bool:
    try:
        _library()
        return True
    except RenderError:
        return False


@dataclass(frozen=True, order=True)
class _Event:
    sample: int
    order: int          # at equal times: note-offs, then controllers and bends, then note-ons
    channel: int
    kind: str
    a: int
    b: int = 0


def _channels(instruments: list[pretty_midi.Instrument]) -> list[int]:
    """MIDI channels for the instruments: drums on 9 (GM channel 10), the others on 0.. skipping 9."""
    melodic = [c for c in range(16) if c != 9]
    out, k = [], 0
    for inst in instruments:
        if inst.is_drum:
            out.append(9)
        else:
            if k >= len(melodic):
                raise RenderError(f"too many melodic instruments in one stem ({len(instruments)})")
            out.append(melodic[k])
            k += 1
    return out


def _events(instruments: list[pretty_midi.Instrument], channels: list[int], sample_rate: int) -> list[_Event]:
    def at(t: float) -> int:
        return int(round(t * sample_rate / BLOCK)) * BLOCK

    events: list[_Event] = []
    for inst, ch in zip(instruments, channels):
        for note in inst.notes:
            start, end = at(note.start), at(note.end)
            end = max(end, start + BLOCK)
            events.append(_Event(start, 3, ch, "on", note.pitch, note.velocity))
            events.append(_Event(end, 0, ch, "off", note.pitch))
        for bend in inst.pitch_bends:
            events.append(_Event(at(bend.time), 2, ch, "bend", bend.pitch + 8192))
        for cc in inst.control_changes:
            events.append(_Event(at(cc.time), 1, ch, "cc", cc.number, cc.value))
    events.sort()
    return events


def render_library(instruments: list[pretty_midi.Instrument], soundfont: Path, num_samples: int,
                   sample_rate: int = SAMPLE_RATE, gain: float = 0.5) -> np.ndarray:
    """Dry stereo float32 (2, num_samples) of `instruments` rendered in-process by libfluidsynth."""
    lib = _library()
    total = -(-num_samples // BLOCK) * BLOCK
    out = np.zeros((2, total), dtype=np.float32)
    if not instruments:
        return out[:, :num_samples]
    _sample_cache_anchor(str(soundfont))
    settings = lib.new_fluid_settings()
    synth = None
    try:
        lib.fluid_settings_setint(settings, b"synth.reverb.active", 0)
        lib.fluid_settings_setint(settings, b"synth.chorus.active", 0)
        lib.fluid_settings_setint(settings, b"synth.polyphony", 256)
        lib.fluid_settings_setnum(settings, b"synth.sample-rate", float(sample_rate))
        lib.fluid_settings_setnum(settings, b"synth.gain", float(gain))
        synth = lib.new_fluid_synth(settings)
        if not synth:
            raise RenderError("libfluidsynth could not create a synthesizer")
        sfont = lib.fluid_synth_sfload(synth, str(soundfont).encode(), 1)
        if sfont < 0:
            raise RenderError(f"libfluidsynth could not load the soundfont {soundfont}")
        channels = _channels(instruments)
        for inst, ch in zip(instruments, channels):
            bank = 128 if inst.is_drum else 0
            if lib.fluid_synth_program_select(synth, ch, sfont, bank, inst.program) != 0 and inst.is_drum:
                lib.fluid_synth_program_select(synth, ch, sfont, 128, 0)  # kit missing: the standard kit
        left, right = out[0], out[1]
        position = 0
        for event in _events(instruments, channels, sample_rate):
            if event.sample >= total:
                break
            if event.sample > position:
                _write(lib, synth, left, right, position, event.sample)
                position = event.sample
            if event.kind == "on":
                lib.fluid_synth_noteon(synth, event.channel, event.a, event.b)
            elif event.kind == "off":
                lib.fluid_synth_noteoff(synth, event.channel, event.a)
            elif event.kind == "bend":
                lib.fluid_synth_pitch_bend(synth, event.channel, event.a)
            else:
                lib.fluid_synth_cc(synth, event.channel, event.a, event.b)
        if position < total:
            _write(lib, synth, left, right, position, total)
    finally:
        if synth:
            lib.delete_fluid_synth(synth)
        lib.delete_fluid_settings(settings)
    return np.ascontiguousarray(out[:, :num_samples])


def _write(lib: ctypes.CDLL, synth: int, left: np.ndarray, right: np.ndarray, start: int, stop: int) -> None:
    n = stop - start
    lib.fluid_synth_write_float(synth, n, left[start:].ctypes.data, 0, 1, right[start:].ctypes.data, 0, 1)


# ------------------------------------------------------------------------------------- fluidsynth CLI
def render_cli(instruments: list[pretty_midi.Instrument], soundfont: Path, num_samples: int, tempo_bpm: float,
               sample_rate: int = SAMPLE_RATE, gain: float = 0.5) -> np.ndarray:
    """Dry stereo float32 (2, num_samples) rendered by the `fluidsynth` program from a temporary MIDI file."""
    if not instruments:
        return np.zeros((2, num_samples), dtype=np.float32)
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise RenderError("the fluidsynth program is not on PATH; install the Debian package fluidsynth")
    pm = pretty_midi.PrettyMIDI(initial_tempo=tempo_bpm)
    pm.instruments.extend(instruments)
    with tempfile.TemporaryDirectory(prefix="mixrep-fs-") as tmp:
        mid, wav = Path(tmp) / "stem.mid", Path(tmp) / "stem.wav"
        pm.write(str(mid))
        cmd = [exe, "-ni", "-q", "-R", "0", "-C", "0", "-g", str(gain), "-r", str(sample_rate), "-O", "float",
               "-T", "wav", "-F", str(wav), str(soundfont), str(mid)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0 or not wav.exists():
            raise RenderError(f"fluidsynth failed ({done.returncode}): {done.stderr.strip()[-500:]}")
        data, rate = sf.read(str(wav), dtype="float32", always_2d=True)
    if rate != sample_rate:
        raise RenderError(f"fluidsynth wrote {rate} Hz instead of {sample_rate} Hz")
    audio = np.zeros((2, num_samples), dtype=np.float32)
    n = min(num_samples, data.shape[0])
    audio[:, :n] = data[:n, :2].T
    return audio


def render_stem(instruments: list[pretty_midi.Instrument], soundfont: Path, num_samples: int, tempo_bpm: float,
                renderer: str = "auto", sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """One stem as dry stereo float32 (2, num_samples), with the back end named by `renderer`."""
    if renderer not in RENDERERS:
        raise ValueError(f"renderer must be one of {RENDERERS}, got {renderer!r}")
    if renderer == "cli" or (renderer == "auto" and not library_available()):
        return render_cli(instruments, soundfont, num_samples, tempo_bpm, sample_rate)
    return render_library(instruments, soundfont, num_samples, sample_rate)
