"""Stage 1: Mel inputs, stem-aware contrastive pretraining, embeddings, and the encoder bundle.

`load_encoder(path)` is the entry other stages use (see mixrep.pretrain.bundle).
"""

from mixrep.pretrain.bundle import EncoderBundle, load_encoder

__all__ = ["EncoderBundle", "load_encoder"]
