"""The analyse stage: one pass per shard that renders every variant once and writes everything made from it.

Recipes + severity (the degrade contract), whole-variant features, the Mel store and per-segment features of
exactly the audio each encoder view sees (docs/CONTRACTS.md, docs/features.md "Per-segment table").
"""

from mixrep.analyse.excerpt import read_stems_excerpt
from mixrep.analyse.shard import ShardAnalysis, analyse_shard
from mixrep.pretrain.windows import ViewWindow, view_windows

__all__ = ["ShardAnalysis", "ViewWindow", "analyse_shard", "read_stems_excerpt", "view_windows"]
