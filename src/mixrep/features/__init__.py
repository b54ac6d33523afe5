"""Structured mixing features of the mix and each stem, one family per module (`families.FAMILIES`:
dynamics, spectral, stereo, masking).

`extract_features(stems (4, 2, N), sample_rate, settings) -> {column: value}`; the columns, their units and
sentinels are defined in `mixrep.features.columns`; docs/features.md describes them for users.
"""

from mixrep.features.columns import KEY_COLUMNS, column_specs, family_columns, feature_columns
from mixrep.features.extract import extract_features, extract_segments
from mixrep.features.settings import FeatureSettings

__all__ = ["KEY_COLUMNS", "FeatureSettings", "column_specs", "extract_features", "extract_segments",
           "family_columns", "feature_columns"]
