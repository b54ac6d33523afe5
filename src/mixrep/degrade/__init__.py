"""Degraded remixes: controlled, logged faults applied to separated stems (see docs/degrade.md).

Public API (docs/CONTRACTS.md): `render_variant(stems, effects, sample_rate) -> stems`,
`iter_variants(stems_index, recipes)` and `sample_recipe(track_id, variant_id, config, seed)`.
The severity scale is defined in `mixrep.degrade.severity`.
"""

from mixrep.degrade.config import DegradeSettings
from mixrep.degrade.faults import FAULTS
from mixrep.degrade.recipes import EffectSpec, Recipe, sample_recipe, variant_seed
from mixrep.degrade.render import iter_variants, mix, render_chain, render_variant

__all__ = ["FAULTS", "DegradeSettings", "EffectSpec", "Recipe", "iter_variants", "mix", "render_chain",
           "render_variant", "sample_recipe", "variant_seed"]
