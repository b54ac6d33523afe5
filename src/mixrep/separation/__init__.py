"""Source separation stage: SCNet (Tong et al., ICASSP 2024) or the oracle stems (docs/separation.md).

Public entry points: `scnet.SCNet`, `checkpoint.load_separator` / `save_checkpoint`,
`apply.separate_track` (mixture (2, N) -> stems (4, 2, N) in mixrep's STEMS order), `metrics.sdr` / `si_sdr`.
"""
