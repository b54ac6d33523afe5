"""The signal core: the one loudness meter, Mel filterbank, pan law / stereo width and centred excerpt.

Every stage (corpus, degrade, features, model front end, transfer, MUSHRA) measures and shapes audio with
these functions; `tests/test_signal_duplicates.py` fails when a second copy appears elsewhere. The modules
import numpy/scipy only (no torch).
"""
