"""The Stage 1 model: Mel frontend, per-stem Transformer encoder, feature conditioning, InfoNCE, checkpoints.

Nothing here reads files of the workflow; `mixrep.pretrain` feeds the model and trains it. Import from the
submodules: this package imports nothing itself, so that the mechanism registry
(`mixrep.model.conditionings`) imports without torch.
"""
