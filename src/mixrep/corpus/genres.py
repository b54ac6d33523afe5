"""Genre definitions of the synthetic corpus: how each genre is arranged and how it is mixed.

A genre is data, not code: an `ArrangementStyle` (tempo range, drum kit and pattern, bass and chord
figures, General MIDI programs per stem, how often there are vocals) and a `MixPrior` (a distribution over
per-stem balance, EQ, compression, stereo width/pan, reverb, master tilt and target loudness). Every track
draws its own mix from its genre's prior (`mixstyle.draw_mix`), so genres overlap as real ones do; the
priors encode the usual conventions (metal loud and compressed, jazz dynamic and roomy, hip-hop bass-heavy
and dry, classical wide, dynamic and reverberant).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mixrep.stems import STEMS

# General MIDI drum notes used by the patterns (channel 10).
KICK, SIDESTICK, SNARE, CLAP, HAT_CLOSED, HAT_PEDAL, HAT_OPEN = 36, 37, 38, 39, 42, 44, 46
CRASH, RIDE, TAMBOURINE, SHAKER, TOM_LOW, TOM_MID = 49, 51, 54, 82, 45, 47

# Chord qualities as semitone intervals above the root.
CHORD_QUALITIES: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7), "min": (0, 3, 7), "dom7": (0, 4, 7, 10), "maj7": (0, 4, 7, 11),
    "min7": (0, 3, 7, 10), "power": (0, 7, 12), "sus2": (0, 2, 7),
}
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)


@dataclass(frozen=True)
class Prior:
    """A clipped normal distribution: one mixing parameter's prior within a genre."""

    mean: float
    sd: float
    lo: float
    hi: float

    def draw(self, rng: np.random.Generator, spread: float = 1.0) -> float:
        """One value; `spread` scales the standard deviation (0 = every track gets the mean)."""
        return float(np.clip(rng.normal(self.mean, self.sd * spread), self.lo, self.hi))


@dataclass(frozen=True)
class StemPrior:
    """Priors of one stem's processing chain (units in the field names' docs of `mixstyle.StemMix`)."""

    gain_db: Prior
    low_shelf_db: Prior
    presence_db: Prior
    high_shelf_db: Prior
    comp_threshold_db: Prior
    comp_ratio: Prior
    reverb_wet: Prior
    width: Prior
    pan: Prior


@dataclass(frozen=True)
class MixPrior:
    """A genre's mixing style: per-stem priors plus the master bus."""

    stems: dict[str, StemPrior]
    target_lufs: Prior
    tilt_db: Prior
    room_size: Prior


@dataclass(frozen=True)
class ArrangementStyle:
    """How a genre's MIDI arrangement is written (see `arrangement.arrange`)."""

    tempo_bpm: tuple[float, float]
    modes: tuple[str, ...]                        # "major" / "minor", drawn uniformly
    progressions: tuple[tuple[tuple[int, str], ...], ...]  # (scale degree 0-6, quality) per chord
    bars_per_chord: int
    drum_kit: int                                 # GM bank-128 preset (0 standard, 16 power, 25 TR-808, ...)
    drum_pattern: str                             # key of arrangement.DRUM_PATTERNS
    swing: float                                  # 0 = straight, 1/3 = triplet swing of off-beat eighths
    bass_programs: tuple[int, ...]
    bass_figure: str                              # key of arrangement.BASS_FIGURES
    bass_octave: int                              # MIDI octave of the bass root (2 = E1..D#2 region)
    other_programs: tuple[tuple[int, ...], ...]   # alternatives; each is the set of instruments in `other`
    other_figure: str                             # key of arrangement.CHORD_FIGURES
    vocal_programs: tuple[int, ...]
    vocal_probability: float
    vocal_octave: int
    dynamics: float = 0.0                         # depth of slow expression swells (CC11), 0 = flat


@dataclass(frozen=True)
class Genre:
    name: str
    arrangement: ArrangementStyle
    mix: MixPrior


def _stem(gain: tuple[float, float], low: tuple[float, float], presence: tuple[float, float],
          high: tuple[float, float], threshold: tuple[float, float], ratio: tuple[float, float],
          wet: tuple[float, float], width: tuple[float, float], pan_sd: float) -> StemPrior:
    """Compact constructor: each pair is (mean, sd); the clip ranges are shared physical limits."""
    return StemPrior(
        gain_db=Prior(*gain, -30.0, 12.0),
        low_shelf_db=Prior(*low, -12.0, 12.0),
        presence_db=Prior(*presence, -12.0, 12.0),
        high_shelf_db=Prior(*high, -12.0, 12.0),
        comp_threshold_db=Prior(*threshold, -40.0, 0.0),
        comp_ratio=Prior(*ratio, 1.0, 20.0),
        reverb_wet=Prior(*wet, 0.0, 0.8),
        width=Prior(*width, 0.0, 2.0),
        pan=Prior(0.0, pan_sd, -0.8, 0.8),
    )


def _mix(stems: dict[str, StemPrior], lufs: tuple[float, float], tilt: tuple[float, float],
         room: tuple[float, float]) -> MixPrior:
    if set(stems) != set(STEMS):
        raise ValueError(f"a mix prior needs exactly the stems {STEMS}, got {sorted(stems)}")
    return MixPrior(stems=stems, target_lufs=Prior(*lufs, -30.0, -5.0), tilt_db=Prior(*tilt, -6.0, 6.0),
                    room_size=Prior(*room, 0.05, 0.95))


GENRES: dict[str, Genre] = {}


def _register(genre: Genre) -> None:
    GENRES[genre.name] = genre


_register(Genre("rock", ArrangementStyle(
    tempo_bpm=(100, 140), modes=("major", "minor"),
    progressions=(((0, "maj"), (4, "maj"), (5, "min"), (3, "maj")), ((0, "power"), (6, "power"), (3, "power"), (0, "power"))),
    bars_per_chord=1, drum_kit=0, drum_pattern="rock", swing=0.0,
    bass_programs=(34, 33), bass_figure="eighths", bass_octave=2,
    other_programs=((30, 0), (29,), (30, 29)), other_figure="power_eighths",
    vocal_programs=(52, 53, 54), vocal_probability=0.9, vocal_octave=4, dynamics=0.1),
    _mix({
        "vocals": _stem((0, 1.5), (-1, 1), (3, 1.5), (2, 1), (-20, 4), (4, 1.5), (0.15, 0.06), (0.6, 0.2), 0.05),
        "bass": _stem((-3, 1.5), (2, 1.5), (0, 1), (-2, 1), (-22, 4), (4, 1.5), (0.02, 0.02), (0.2, 0.1), 0.05),
        "drums": _stem((-1, 1.5), (1, 1.5), (2, 1.5), (2, 1), (-20, 4), (4, 1.5), (0.10, 0.05), (0.9, 0.2), 0.05),
        "other": _stem((-2, 1.5), (-1, 1), (2, 1.5), (0, 1), (-20, 4), (3, 1), (0.12, 0.05), (1.2, 0.2), 0.25),
    }, lufs=(-10.5, 1.0), tilt=(0.5, 1.0), room=(0.4, 0.1))))

_register(Genre("metal", ArrangementStyle(
    tempo_bpm=(130, 180), modes=("minor",),
    progressions=(((0, "power"), (5, "power"), (6, "power"), (0, "power")), ((0, "power"), (1, "power"), (0, "power"), (6, "power"))),
    bars_per_chord=1, drum_kit=16, drum_pattern="metal", swing=0.0,
    bass_programs=(34, 33), bass_figure="sixteenths", bass_octave=2,
    other_programs=((30,), (30, 29)), other_figure="power_sixteenths",
    vocal_programs=(52, 54), vocal_probability=0.85, vocal_octave=4, dynamics=0.0),
    _mix({
        "vocals": _stem((-1, 1.5), (-2, 1), (3, 1.5), (2, 1), (-26, 4), (6, 2), (0.12, 0.05), (0.6, 0.2), 0.05),
        "bass": _stem((-2, 1.5), (2, 1.5), (1, 1), (-1, 1), (-28, 4), (6, 2), (0.02, 0.02), (0.2, 0.1), 0.05),
        "drums": _stem((0, 1.5), (2, 1.5), (3, 1.5), (3, 1), (-28, 4), (6, 2), (0.06, 0.04), (0.9, 0.2), 0.05),
        "other": _stem((0, 1.5), (0, 1), (2, 1.5), (1, 1), (-26, 4), (5, 2), (0.06, 0.04), (1.4, 0.2), 0.15),
    }, lufs=(-8, 0.8), tilt=(1.0, 1.0), room=(0.3, 0.1))))

_register(Genre("pop", ArrangementStyle(
    tempo_bpm=(95, 125), modes=("major",),
    progressions=(((0, "maj"), (4, "maj"), (5, "min"), (3, "maj")), ((5, "min"), (3, "maj"), (0, "maj"), (4, "maj"))),
    bars_per_chord=1, drum_kit=0, drum_pattern="pop", swing=0.0,
    bass_programs=(33, 38), bass_figure="root_fifth", bass_octave=2,
    other_programs=((0, 48), (4, 89), (0, 88)), other_figure="pad_and_keys",
    vocal_programs=(53, 54, 52), vocal_probability=0.95, vocal_octave=4, dynamics=0.05),
    _mix({
        "vocals": _stem((2, 1.5), (-2, 1), (3, 1.5), (3, 1), (-22, 4), (4, 1.5), (0.18, 0.06), (0.6, 0.2), 0.03),
        "bass": _stem((-3, 1.5), (2, 1.5), (0, 1), (-1, 1), (-22, 4), (4, 1.5), (0.02, 0.02), (0.2, 0.1), 0.03),
        "drums": _stem((-2, 1.5), (1, 1.5), (1, 1.5), (2, 1), (-20, 4), (4, 1.5), (0.10, 0.05), (1.0, 0.2), 0.05),
        "other": _stem((-4, 1.5), (-1, 1), (0, 1.5), (1, 1), (-20, 4), (2.5, 1), (0.20, 0.06), (1.3, 0.2), 0.2),
    }, lufs=(-10, 1.0), tilt=(1.0, 1.0), room=(0.5, 0.1))))

_register(Genre("jazz", ArrangementStyle(
    tempo_bpm=(110, 190), modes=("major", "minor"),
    progressions=(((1, "min7"), (4, "dom7"), (0, "maj7"), (5, "min7")), ((0, "maj7"), (5, "min7"), (1, "min7"), (4, "dom7"))),
    bars_per_chord=1, drum_kit=40, drum_pattern="jazz", swing=1 / 3,
    bass_programs=(32,), bass_figure="walking", bass_octave=2,
    other_programs=((0,), (0, 11), (4, 65)), other_figure="comping",
    vocal_programs=(53, 52), vocal_probability=0.35, vocal_octave=4, dynamics=0.45),
    _mix({
        "vocals": _stem((0, 1.5), (0, 1), (1, 1.5), (0, 1), (-14, 4), (2, 0.5), (0.30, 0.08), (0.7, 0.2), 0.05),
        "bass": _stem((-2, 1.5), (1, 1.5), (0, 1), (-1, 1), (-14, 4), (1.8, 0.5), (0.15, 0.06), (0.5, 0.2), 0.15),
        "drums": _stem((-5, 1.5), (-1, 1.5), (0, 1.5), (1, 1), (-12, 4), (1.5, 0.4), (0.30, 0.08), (1.2, 0.2), 0.1),
        "other": _stem((-2, 1.5), (0, 1), (0, 1.5), (0, 1), (-14, 4), (1.5, 0.4), (0.32, 0.08), (1.2, 0.2), 0.3),
    }, lufs=(-18, 1.5), tilt=(-1.0, 1.0), room=(0.7, 0.1))))

_register(Genre("hip-hop", ArrangementStyle(
    tempo_bpm=(80, 98), modes=("minor",),
    progressions=(((0, "min7"), (5, "maj7")), ((0, "min"), (3, "min7"), (5, "maj"), (4, "min"))),
    bars_per_chord=2, drum_kit=25, drum_pattern="boom_bap", swing=0.15,
    bass_programs=(38, 39, 33), bass_figure="sub", bass_octave=1,
    other_programs=((4,), (5, 48), (0,)), other_figure="stabs",
    vocal_programs=(54, 53), vocal_probability=0.9, vocal_octave=3, dynamics=0.0),
    _mix({
        "vocals": _stem((2, 1.5), (-2, 1), (3, 1.5), (2, 1), (-22, 4), (4, 1.5), (0.03, 0.03), (0.25, 0.1), 0.02),
        "bass": _stem((1, 1.5), (5, 1.5), (-1, 1), (-3, 1), (-20, 4), (3, 1), (0.0, 0.01), (0.1, 0.05), 0.02),
        "drums": _stem((0, 1.5), (3, 1.5), (1, 1.5), (0, 1), (-20, 4), (4, 1.5), (0.02, 0.02), (0.35, 0.1), 0.03),
        "other": _stem((-5, 1.5), (-2, 1), (-1, 1.5), (-2, 1), (-20, 4), (2, 1), (0.04, 0.03), (0.4, 0.15), 0.08),
    }, lufs=(-10, 1.0), tilt=(-2.0, 1.0), room=(0.2, 0.08))))

_register(Genre("electronic", ArrangementStyle(
    tempo_bpm=(118, 132), modes=("minor", "major"),
    progressions=(((5, "min"), (3, "maj"), (0, "maj"), (4, "maj")), ((0, "min"), (5, "maj"), (2, "maj"), (6, "maj"))),
    bars_per_chord=1, drum_kit=24, drum_pattern="four_on_floor", swing=0.0,
    bass_programs=(38, 39), bass_figure="offbeat", bass_octave=2,
    other_programs=((81, 89), (90, 80), (81, 88)), other_figure="arpeggio",
    vocal_programs=(54,), vocal_probability=0.3, vocal_octave=4, dynamics=0.0),
    _mix({
        "vocals": _stem((0, 1.5), (-2, 1), (2, 1.5), (3, 1), (-22, 4), (4, 1.5), (0.22, 0.06), (0.8, 0.2), 0.05),
        "bass": _stem((-1, 1.5), (3, 1.5), (0, 1), (-1, 1), (-22, 4), (4, 1.5), (0.0, 0.01), (0.15, 0.08), 0.02),
        "drums": _stem((0, 1.5), (2, 1.5), (1, 1.5), (2, 1), (-22, 4), (5, 1.5), (0.05, 0.03), (0.8, 0.2), 0.05),
        "other": _stem((-3, 1.5), (-2, 1), (1, 1.5), (2, 1), (-22, 4), (3, 1), (0.25, 0.08), (1.6, 0.2), 0.2),
    }, lufs=(-9, 1.0), tilt=(0.5, 1.0), room=(0.6, 0.1))))

_register(Genre("folk", ArrangementStyle(
    tempo_bpm=(84, 120), modes=("major",),
    progressions=(((0, "maj"), (3, "maj"), (0, "maj"), (4, "maj")), ((0, "maj"), (5, "min"), (3, "maj"), (4, "maj"))),
    bars_per_chord=1, drum_kit=8, drum_pattern="folk", swing=0.0,
    bass_programs=(32,), bass_figure="root_fifth", bass_octave=2,
    other_programs=((25,), (24, 40), (25, 105)), other_figure="strum",
    vocal_programs=(53, 52), vocal_probability=0.8, vocal_octave=4, dynamics=0.3),
    _mix({
        "vocals": _stem((2, 1.5), (-1, 1), (2, 1.5), (1, 1), (-16, 4), (2.5, 0.8), (0.20, 0.06), (0.5, 0.2), 0.03),
        "bass": _stem((-4, 1.5), (1, 1.5), (0, 1), (-1, 1), (-16, 4), (2, 0.8), (0.08, 0.04), (0.4, 0.15), 0.1),
        "drums": _stem((-7, 1.5), (-1, 1.5), (0, 1.5), (1, 1), (-14, 4), (2, 0.8), (0.18, 0.06), (1.0, 0.2), 0.1),
        "other": _stem((-1, 1.5), (0, 1), (1, 1.5), (1, 1), (-16, 4), (2, 0.8), (0.20, 0.06), (1.3, 0.2), 0.3),
    }, lufs=(-14, 1.5), tilt=(0.0, 1.0), room=(0.55, 0.1))))

_register(Genre("classical", ArrangementStyle(
    tempo_bpm=(60, 100), modes=("major", "minor"),
    progressions=(((0, "maj"), (3, "maj"), (4, "maj"), (0, "maj")), ((0, "min"), (3, "min"), (4, "maj"), (0, "min"))),
    bars_per_chord=1, drum_kit=48, drum_pattern="orchestral", swing=0.0,
    bass_programs=(43, 42), bass_figure="halves", bass_octave=2,
    other_programs=((48, 49), (48, 73), (48, 60), (40, 41, 42)), other_figure="sustained",
    vocal_programs=(52,), vocal_probability=0.1, vocal_octave=4, dynamics=0.75),
    _mix({
        "vocals": _stem((0, 1.5), (0, 1), (0, 1), (0, 1), (-10, 3), (1.3, 0.3), (0.40, 0.08), (1.4, 0.2), 0.1),
        "bass": _stem((-3, 1.5), (0, 1), (0, 1), (0, 1), (-10, 3), (1.3, 0.3), (0.38, 0.08), (1.3, 0.2), 0.3),
        "drums": _stem((-8, 1.5), (0, 1), (0, 1), (0, 1), (-10, 3), (1.2, 0.2), (0.40, 0.08), (1.4, 0.2), 0.2),
        "other": _stem((0, 1.5), (0, 1), (0, 1), (0, 1), (-10, 3), (1.3, 0.3), (0.42, 0.08), (1.7, 0.15), 0.3),
    }, lufs=(-21, 2.0), tilt=(-0.5, 1.0), room=(0.85, 0.05))))


def get_genre(name: str) -> Genre:
    """The genre called `name`, or a ValueError listing the known ones."""
    try:
        return GENRES[name]
    except KeyError:
        raise ValueError(f"unknown synthetic genre {name!r}; known: {', '.join(GENRES)}") from None


def describe_genres() -> str:
    """Markdown tables of the genres' arrangements and mixing priors (means ± sd), as in docs/corpus.md."""
    arr = ["| genre | tempo (bpm) | modes | drum kit / pattern | bass (GM) / figure | other (GM) / figure "
           "| vocals (GM), P(vocals) | dynamics |", "|---" * 8 + "|"]
    mix = ["| genre | target LUFS | tilt dB | room | vocals / bass / drums / other gain dB "
           "| comp ratio (drums, other) | reverb wet (vocals, other) | width (bass, other) |", "|---" * 8 + "|"]
    for name, genre in GENRES.items():
        a, m = genre.arrangement, genre.mix
        others = " or ".join("+".join(map(str, s)) for s in a.other_programs)
        arr.append(f"| {name} | {a.tempo_bpm[0]:g}-{a.tempo_bpm[1]:g} | {'/'.join(a.modes)} | {a.drum_kit} / "
                   f"{a.drum_pattern} | {'/'.join(map(str, a.bass_programs))} / {a.bass_figure} | {others} / "
                   f"{a.other_figure} | {'/'.join(map(str, a.vocal_programs))}, {a.vocal_probability:g} | {a.dynamics:g} |")
        s = m.stems
        gains = " / ".join(f"{s[k].gain_db.mean:+g}" for k in STEMS)
        mix.append(f"| {name} | {m.target_lufs.mean:g} ± {m.target_lufs.sd:g} | {m.tilt_db.mean:+g} | "
                   f"{m.room_size.mean:g} | {gains} | {s['drums'].comp_ratio.mean:g}, {s['other'].comp_ratio.mean:g} | "
                   f"{s['vocals'].reverb_wet.mean:g}, {s['other'].reverb_wet.mean:g} | "
                   f"{s['bass'].width.mean:g}, {s['other'].width.mean:g} |")
    return "\n".join(arr) + "\n\n" + "\n".join(mix)
