"""MIDI arrangements of one synthetic track: drums, bass, chords (`other`) and a sung-like lead (`vocals`).

`arrange(genre, seconds, rng)` writes a short loop-based piece in the genre's idiom: a tempo and key drawn
from the genre's ranges, a chord progression, a drum pattern on General MIDI channel 10, a bass figure, one
or more chord instruments and, for most genres, a legato lead line on a voice program with vibrato (pitch
bend) and rests between phrases. Everything is drawn from the `rng` passed in, so a track is a pure function
of its seed. Each stem is a list of `pretty_midi.Instrument`, rendered separately (`render.py`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pretty_midi

from mixrep.corpus import genres as g

NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
STEPS_PER_BAR = 16  # sixteenth-note grid, 4/4 (the drum patterns below have one symbol per step)

# Drum patterns: instrument note -> 16-step grid. "X" accent, "x" normal, "o" ghost, "." rest.
DRUM_PATTERNS: dict[str, dict[int, str]] = {
    "rock": {g.KICK: "x.....x.x.......", g.SNARE: "....X.......X...", g.HAT_CLOSED: "x.x.x.x.x.x.x.x."},
    "metal": {g.KICK: "xxxxxxxxxxxxxxxx", g.SNARE: "....X.......X...", g.RIDE: "x...x...x...x..."},
    "pop": {g.KICK: "x.......x.....x.", g.CLAP: "....X.......X...", g.SNARE: "....x.......x...",
            g.HAT_CLOSED: "xoxoxoxoxoxoxoxo"},
    "jazz": {g.RIDE: "x...x.x.x...x.x.", g.HAT_PEDAL: "....x.......x...", g.SNARE: "......o.......o.",
             g.KICK: "o..............."},
    "boom_bap": {g.KICK: "x......x..x.....", g.SNARE: "....X.......X...", g.HAT_CLOSED: "x.x.x.x.x.x.x.x."},
    "four_on_floor": {g.KICK: "X...X...X...X...", g.CLAP: "....x.......x...", g.HAT_CLOSED: "x.o.x.o.x.o.x.o.",
                      g.HAT_OPEN: "..x...x...x...x."},
    "folk": {g.KICK: "x.......x.......", g.SIDESTICK: "....x.......x...", g.TAMBOURINE: "x.o.x.o.x.o.x.o."},
    "orchestral": {g.KICK: "o.......o.......", g.TOM_LOW: "x..............."},
}
_VELOCITY = {"X": 112, "x": 92, "o": 58}


@dataclass
class Arrangement:
    """A track's score: tempo, key and the MIDI instruments of each stem."""

    genre: str
    tempo_bpm: float
    key: str
    has_vocals: bool
    stems: dict[str, list[pretty_midi.Instrument]]
    chords: list[tuple[int, str]] = field(default_factory=list)  # (root MIDI pitch, quality) per chord slot

    def programs(self) -> dict[str, str]:
        """Programs per stem as '+'-joined strings (drums: 'kit<N>'), for the metadata table."""
        out = {}
        for stem, instruments in self.stems.items():
            out[stem] = "+".join(f"kit{i.program}" if i.is_drum else str(i.program) for i in instruments)
        return out


@dataclass(frozen=True)
class Grid:
    """Converts (bar, sixteenth step) to seconds, with swing of the off-beat eighths."""

    tempo_bpm: float
    swing: float

    @property
    def beat(self) -> float:
        return 60.0 / self.tempo_bpm

    @property
    def bar(self) -> float:
        return 4 * self.beat

    def time(self, bar: int, step: float) -> float:
        shift = self.swing * self.beat / 2 if float(step) % 4 == 2 else 0.0
        return bar * self.bar + step * self.beat / 4 + shift


def _velocity(rng: np.random.Generator, base: int, jitter: int = 8) -> int:
    return int(np.clip(base + rng.integers(-jitter, jitter + 1), 1, 127))


def _chord_pitches(root: int, quality: str, low: int, high: int) -> list[int]:
    """Chord tones of (root, quality) voiced between MIDI pitches `low` and `high`."""
    pcs = {(root + i) % 12 for i in g.CHORD_QUALITIES[quality]}
    return [p for p in range(low, high + 1) if p % 12 in pcs]


def _note(inst: pretty_midi.Instrument, pitch: int, velocity: int, start: float, end: float) -> None:
    inst.notes.append(pretty_midi.Note(velocity=int(velocity), pitch=int(pitch), start=float(start),
                                       end=float(max(end, start + 0.02))))


# ------------------------------------------------------------------------------------------- drums
def _drums(style: g.ArrangementStyle, grid: Grid, n_bars: int, rng: np.random.Generator) -> pretty_midi.Instrument:
    inst = pretty_midi.Instrument(program=style.drum_kit, is_drum=True, name="drums")
    pattern = DRUM_PATTERNS[style.drum_pattern]
    hit = min(0.1, 0.8 * grid.beat / 4)  # shorter than a sixteenth: a repeated hit must not end the next one
    if any(len(steps) != STEPS_PER_BAR for steps in pattern.values()):
        raise ValueError(f"drum pattern {style.drum_pattern!r} must have {STEPS_PER_BAR} steps per instrument")
    for bar in range(n_bars):
        if bar % 4 == 0 and style.drum_pattern != "jazz":
            _note(inst, g.CRASH, _velocity(rng, 100 if style.drum_pattern != "orchestral" else 70), grid.time(bar, 0),
                  grid.time(bar, 4))
        for pitch, steps in pattern.items():
            for step, symbol in enumerate(steps):
                if symbol == "." or (symbol == "o" and rng.random() < 0.2):
                    continue
                start = grid.time(bar, step)
                _note(inst, pitch, _velocity(rng, _VELOCITY[symbol]), start, start + hit)
        if bar % 4 == 3 and style.drum_pattern in ("rock", "metal", "pop", "folk") and rng.random() < 0.7:
            for step, pitch in zip(range(12, 16), (g.TOM_MID, g.TOM_MID, g.TOM_LOW, g.TOM_LOW)):
                _note(inst, pitch, _velocity(rng, 96), grid.time(bar, step), grid.time(bar, step) + hit)
    return inst


# -------------------------------------------------------------------------------------------- bass
def _bass_steps(steps: list[tuple[int, int, int]], root: int, grid: Grid, bar: int,
                rng: np.random.Generator) -> list[tuple[int, float, float, int]]:
    """(step, length in steps, interval above root) -> (pitch, start, end, velocity)."""
    return [(root + interval, grid.time(bar, step), grid.time(bar, step + length) - 0.01, _velocity(rng, 96))
            for step, length, interval in steps]


def _bass_figure(name: str, root: int, quality: str, next_root: int, grid: Grid, bar: int,
                 rng: np.random.Generator) -> list[tuple[int, float, float, int]]:
    fifth = 7
    third = 3 if quality in ("min", "min7") else 4
    if name == "eighths":
        return _bass_steps([(s, 2, 0) for s in range(0, 16, 2)], root, grid, bar, rng)
    if name == "sixteenths":
        return _bass_steps([(s, 1, 0) for s in range(16)], root, grid, bar, rng)
    if name == "root_fifth":
        return _bass_steps([(0, 4, 0), (4, 4, 0), (8, 4, fifth), (12, 4, 12)], root, grid, bar, rng)
    if name == "halves":
        return _bass_steps([(0, 8, 0), (8, 8, fifth)], root, grid, bar, rng)
    if name == "sub":
        return _bass_steps([(0, 6, 0), (7, 3, 0), (10, 6, rng.choice([0, 12, fifth]))], root, grid, bar, rng)
    if name == "offbeat":
        return _bass_steps([(s, 2, 0 if rng.random() < 0.8 else 12) for s in (2, 6, 10, 14)], root, grid, bar, rng)
    if name == "walking":
        approach = next_root + (1 if rng.random() < 0.5 else -1)
        pitches = [root, root + rng.choice([third, 2]), root + fifth, approach]
        return [(int(p), grid.time(bar, 4 * k), grid.time(bar, 4 * k + 4) - 0.02, _velocity(rng, 90))
                for k, p in enumerate(pitches)]
    raise ValueError(f"unknown bass figure {name!r}")


# ------------------------------------------------------------------------------------------ chords
def _chord_figure(name: str, index: int, root: int, quality: str, grid: Grid, bar: int,
                  rng: np.random.Generator) -> list[tuple[int, float, float, int]]:
    """Notes of chord instrument number `index` (0 = the rhythm part, >0 = sustained support)."""
    events: list[tuple[int, float, float, int]] = []
    voicing = _chord_pitches(root, quality, 55, 74)
    if index > 0 and name != "sustained":
        # Pads / strings under the main part: the chord held for the bar, softly.
        for p in voicing[:4]:
            events.append((p, grid.time(bar, 0), grid.time(bar, 16) - 0.02, _velocity(rng, 62)))
        return events
    if name in ("power_eighths", "power_sixteenths"):
        power = [root + 12 + i for i in (0, 7, 12)] if root < 48 else [root + i for i in (0, 7, 12)]
        step_len = 2 if name == "power_eighths" else 1
        for step in range(0, 16, step_len):
            length = step_len - 0.3  # a gap before the repeated chord (palm-muted on sixteenths)
            vel = 100 if step % 4 == 0 else 84
            events += [(p, grid.time(bar, step), grid.time(bar, step + length), _velocity(rng, vel)) for p in power]
        return events
    if name == "pad_and_keys":
        for step in (0, 4, 8, 12):
            events += [(p, grid.time(bar, step), grid.time(bar, step + 3.5), _velocity(rng, 80)) for p in voicing[:4]]
        return events
    if name == "comping":
        rhythm = [(0, 2), (6, 3)] if rng.random() < 0.6 else [(2, 2), (10, 2), (14, 2)]
        for step, length in rhythm:
            events += [(p, grid.time(bar, step), grid.time(bar, step + length), _velocity(rng, 70)) for p in voicing[:4]]
        events.append((root - 12, grid.time(bar, 0), grid.time(bar, 2), _velocity(rng, 60)))  # left-hand root
        return events
    if name == "stabs":
        for step, length in [(0, 6), (8, 2), (11, 4)] if rng.random() < 0.5 else [(0, 14)]:
            events += [(p, grid.time(bar, step), grid.time(bar, step + length), _velocity(rng, 76)) for p in voicing[:4]]
        return events
    if name == "arpeggio":
        tones = _chord_pitches(root, quality, 60, 84)
        order = tones + tones[-2:0:-1]
        for step in range(16):
            p = order[step % len(order)]
            events.append((p, grid.time(bar, step), grid.time(bar, step + 0.8), _velocity(rng, 84)))
        return events
    if name == "strum":
        shape = _chord_pitches(root, quality, 40, 67)[-6:]
        for step, down in [(0, True), (4, True), (6, False), (10, False), (12, True), (14, False)]:
            strings = shape if down else shape[::-1]
            start = grid.time(bar, step)
            for k, p in enumerate(strings):
                events.append((p, start + 0.008 * k, grid.time(bar, step + 2) - 0.01, _velocity(rng, 82 if down else 66)))
        return events
    if name == "sustained":
        spread = _chord_pitches(root, quality, 48 + 7 * index, 72 + 7 * index)
        chosen = spread[:: max(1, len(spread) // 3)][:3]
        for p in chosen:
            events.append((p, grid.time(bar, 0), grid.time(bar, 16) - 0.03, _velocity(rng, 70)))
        return events
    raise ValueError(f"unknown chord figure {name!r}")


# ------------------------------------------------------------------------------------------ vocals
def _vocals(style: g.ArrangementStyle, program: int, scale: list[int], chords: list[tuple[int, str]],
            grid: Grid, n_bars: int, rng: np.random.Generator) -> pretty_midi.Instrument:
    """A legato lead: 2-bar phrases separated by rests, vibrato by pitch bend after each note's onset."""
    inst = pretty_midi.Instrument(program=program, name="vocals")
    low, high = 12 * (style.vocal_octave + 1) - 3, 12 * (style.vocal_octave + 1) + 14
    pitches = [p for p in range(low, high + 1) if p % 12 in scale]
    bar = 0
    while bar < n_bars:
        phrase_bars = 2
        end_beat = 4 * phrase_bars - float(rng.choice([1.0, 1.5, 2.0]))  # breath at the end of the phrase
        beat = float(rng.choice([0.0, 0.5, 1.0, 2.0]))  # pick-up rests before the phrase
        root = chords[min(bar, len(chords) - 1)][0]
        current = min(pitches, key=lambda p: abs((p - root) % 12) + abs(p - (low + high) / 2) / 12)
        phrase: list[tuple[int, float, float]] = []
        while beat < end_beat:
            length = float(min(rng.choice([0.5, 1.0, 1.0, 1.5, 2.0]), end_beat - beat))
            phrase.append((current, beat, length))
            beat += length
            idx = pitches.index(current) + int(rng.choice([-2, -1, -1, 0, 1, 1, 2]))
            current = pitches[int(np.clip(idx, 0, len(pitches) - 1))]
        for k, (pitch, start_beat, length) in enumerate(phrase):
            start = bar * grid.bar + start_beat * grid.beat
            # legato: overlap the next note, unless it repeats this pitch (its note-off would cut the new note)
            legato = k + 1 < len(phrase) and phrase[k + 1][0] != pitch
            end = start + length * grid.beat + (0.04 if legato else -0.05)
            _note(inst, pitch, _velocity(rng, 86), start, end)
            _vibrato(inst, start, end, rng)
        bar += phrase_bars + int(rng.integers(0, 2))  # a bar's rest between some phrases
    return inst


def _vibrato(inst: pretty_midi.Instrument, start: float, end: float, rng: np.random.Generator) -> None:
    """Pitch-bend vibrato (bend range ±2 semitones): a 5-6 Hz sine that fades in after 150 ms."""
    inst.pitch_bends.append(pretty_midi.PitchBend(0, start))
    rate, depth = rng.uniform(5.0, 6.2), rng.uniform(0.2, 0.4)  # Hz, semitones
    t = start + 0.15
    while t < end - 0.02:
        fade = min(1.0, (t - start - 0.15) / 0.3)
        semis = depth * fade * math.sin(2 * math.pi * rate * (t - start))
        inst.pitch_bends.append(pretty_midi.PitchBend(int(np.clip(round(semis / 2 * 8192), -8192, 8191)), t))
        t += 0.02


@dataclass(frozen=True)
class _Swell:
    """Slow crescendi and diminuendi as MIDI expression (CC11): the dynamics of classical and jazz playing."""

    depth: float      # 0..1: how far the expression falls below full at the quietest point
    period_s: float
    phase: float      # 0..1 of a period

    def apply(self, inst: pretty_midi.Instrument, seconds: float, step_s: float = 0.05) -> None:
        t = 0.0
        while t < seconds:
            level = 1.0 - self.depth * 0.5 * (1 - math.cos(2 * math.pi * (t / self.period_s + self.phase)))
            inst.control_changes.append(pretty_midi.ControlChange(11, int(round(127 * level)), t))
            t += step_s


# --------------------------------------------------------------------------------------------- all
def arrange(genre: g.Genre, seconds: float, rng: np.random.Generator) -> Arrangement:
    """A genre-typical MIDI arrangement covering at least `seconds` (plus a bar for release tails)."""
    style = genre.arrangement
    tempo = float(round(rng.uniform(*style.tempo_bpm), 1))
    grid = Grid(tempo, style.swing)
    n_bars = int(math.ceil(seconds / grid.bar)) + 1
    tonic = int(rng.integers(0, 12))
    mode = str(rng.choice(style.modes))
    scale = [(tonic + i) % 12 for i in (g.MAJOR_SCALE if mode == "major" else g.MINOR_SCALE)]
    progression = style.progressions[int(rng.integers(0, len(style.progressions)))]

    bass_root_base = 12 * (style.bass_octave + 1)
    chords: list[tuple[int, str]] = []
    for bar in range(n_bars + 1):
        degree, quality = progression[(bar // style.bars_per_chord) % len(progression)]
        pc = scale[degree]
        chords.append((bass_root_base + (pc - bass_root_base) % 12, quality))

    drums = _drums(style, grid, n_bars, rng)
    bass = pretty_midi.Instrument(program=int(rng.choice(style.bass_programs)), name="bass")
    other_set = style.other_programs[int(rng.integers(0, len(style.other_programs)))]
    others = [pretty_midi.Instrument(program=p, name=f"other{k}") for k, p in enumerate(other_set)]
    for bar in range(n_bars):
        root, quality = chords[bar]
        for pitch, start, end, vel in _bass_figure(style.bass_figure, root, quality, chords[bar + 1][0], grid, bar, rng):
            _note(bass, pitch, vel, start, end)
        for k, inst in enumerate(others):
            for pitch, start, end, vel in _chord_figure(style.other_figure, k, root + 12, quality, grid, bar, rng):
                _note(inst, pitch, vel, start, end)

    if style.dynamics > 0:
        swell = _Swell(depth=style.dynamics, period_s=grid.bar * float(rng.choice([2, 4])), phase=rng.uniform(0, 1))
        for inst in [bass, *others]:
            swell.apply(inst, n_bars * grid.bar)
    has_vocals = bool(rng.random() < style.vocal_probability)
    vocal_program = int(rng.choice(style.vocal_programs))
    vocals = [_vocals(style, vocal_program, scale, chords, grid, n_bars, rng)] if has_vocals else []
    # a lead that would only enter after the end of the track is no lead: the vocal stem is then silent
    if vocals and not any(note.start < seconds - 0.25 for note in vocals[0].notes):
        vocals, has_vocals = [], False
    if style.dynamics > 0:
        for inst in vocals:
            swell.apply(inst, n_bars * grid.bar)
    key = f"{NOTE_NAMES[tonic]} {mode}"
    return Arrangement(genre=genre.name, tempo_bpm=tempo, key=key, has_vocals=has_vocals,
                       stems={"vocals": vocals, "bass": [bass], "drums": [drums], "other": others}, chords=chords)
