"""Using a trained model on a person's own music: the model bundle and the `analyze`, `compare` and
`transfer-file` commands.

Everything the workflow learns stays inside `results/`; `results/bundle/` (built by the `bundle` rule) gathers
what these commands need (separator, encoder, regressor, reference embeddings and per-genre feature norms) with
a sha256 manifest, so they run from that folder alone, without the workflow or its config.
"""
