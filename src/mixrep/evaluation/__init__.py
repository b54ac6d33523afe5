"""Stage 2 evaluation: quality regression on frozen embeddings, t-SNE / cluster metrics, the ablation summary.

`load_regressor(path).predict(z)` is the API other stages use (MUSHRA analysis); see docs/evaluation.md.
"""

from mixrep.evaluation.mlp import QualityRegressor, load_regressor

__all__ = ["QualityRegressor", "load_regressor"]
