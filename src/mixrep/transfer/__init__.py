"""Stem-aware mix-style transfer by inference-time optimisation (ST-ITO, Steinmetz et al., ISMIR 2024).

A per-stem effect chain (`chain`) with every parameter normalised to [0, 1] (`params`) is searched with
CMA-ES (`ito`) so that the embedding of the processed remix comes close to the embedding of a style
reference; `distances` measures what the transfer closed, `pairs` picks the source/target tracks.
"""

from mixrep.transfer.params import ParamSpace, ParamSpec, STEM_PARAMS

__all__ = ["ParamSpace", "ParamSpec", "STEM_PARAMS"]
