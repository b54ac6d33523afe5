"""Datasets: list a source's input files, judge each one once, and write the manifest checkpoint.

Sources: the synthetic corpus, FMA, a folder of audio files, multitrack folders (MUSDB18-HQ layout).
See docs/datasets.md for layouts, config keys, manifest columns and rejection reasons.
"""

from mixrep.datasets.manifest import DatasetSettings, build_manifest, list_candidates, summarize, write_manifest
from mixrep.datasets.records import Candidate, DatasetError, ManifestRow, Reason

__all__ = ["Candidate", "DatasetError", "DatasetSettings", "ManifestRow", "Reason", "build_manifest",
           "list_candidates", "summarize", "write_manifest"]
