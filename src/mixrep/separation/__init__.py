"""Source separation stage: the separator of `separation.method` (docs/separation.md).

Separators are entries of one registry, `separators.SEPARATORS` (interface: `separator.SeparatorKind`): SCNet
(Tong et al., ICASSP 2024; `scnet_entry`, model `scnet.SCNet`, weights `checkpoint`) and the oracle stems
(`oracle`). Other public entry points: `apply.separate_track` (mixture (2, N) -> stems (4, 2, N) in mixrep's
STEMS order), `stream.separate_file` / `write_blocks` (to stem files), `metrics.sdr` / `si_sdr`.
"""
