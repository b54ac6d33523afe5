"""The synthetic multitrack corpus: the embedded default dataset that stands in for FMA.

MIDI arrangements per genre (`arrangement`) rendered per stem with FluidSynth and a General MIDI soundfont
(`render`), mixed in the genre's style drawn per track (`genres`, `mixstyle`) and written in the layout of a
user's own multitrack data (`generate`): ``<out>/tracks/<track_id>/{mixture,vocals,bass,drums,other}.wav`` and
``<out>/metadata.parquet``. Held-out arrangements mixed under every genre's prior form the crossed content x
mixing-style set (``syn-x<k>-<style>``). See docs/corpus.md.
"""

from mixrep.corpus.generate import (CorpusSettings, CrossedSpec, CrossedTrackSpec, Track, TrackSpec, crossed_specs,
                                   generate_corpus, generate_crossed, generate_track)
from mixrep.corpus.genres import GENRES

__all__ = ["GENRES", "CorpusSettings", "CrossedSpec", "CrossedTrackSpec", "Track", "TrackSpec", "crossed_specs",
           "generate_corpus", "generate_crossed", "generate_track"]
