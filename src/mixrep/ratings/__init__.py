"""Rated mixes for Stage 2: a simulated listening test (default) or real ratings from a CSV.

Both write `results/ratings/ratings.parquet` (`mix_id, song_id, track_id, variant_id, score, score_sd,
n_raters, split, simulated`) and `results/ratings/rejected.csv`; see docs/evaluation.md.
"""

from mixrep.ratings.csv import LoadedRatings, Rejection, load_ratings_csv
from mixrep.ratings.synthetic import PanelSettings, simulate_ratings, synthetic_table
from mixrep.ratings.table import TABLE_COLUMNS, finish_table, split_songs

__all__ = ["TABLE_COLUMNS", "LoadedRatings", "PanelSettings", "Rejection", "finish_table", "load_ratings_csv",
           "simulate_ratings", "split_songs", "synthetic_table"]
