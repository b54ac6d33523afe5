"""mixrep: stem-aware contrastive mixing-style representation learning.

A small library (one module per workflow stage) and the Snakemake workflow that chains the stages.
"""

__version__ = "0.1.0"
