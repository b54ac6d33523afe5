"""The Stage 1 model: Mel frontend, per-stem Transformer encoder, feature conditioning, InfoNCE, checkpoints.

Nothing here reads files of the workflow; `mixrep.pretrain` feeds the model and trains it.
"""

from mixrep.model.checkpoint import EncoderCheckpoint, load_checkpoint, save_checkpoint
from mixrep.model.conditioning import CONDITIONING_MODES, FeatureConditioner
from mixrep.model.encoder import MixEncoder
from mixrep.model.frontend import MelFrontend
from mixrep.model.losses import info_nce

__all__ = [
    "CONDITIONING_MODES",
    "EncoderCheckpoint",
    "FeatureConditioner",
    "MelFrontend",
    "MixEncoder",
    "info_nce",
    "load_checkpoint",
    "save_checkpoint",
]
