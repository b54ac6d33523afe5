# Features: the per-shard tables (results/features/{shard}.parquet) are written by the analyse pass
# (analyse.smk); here they are merged into the one table the evaluation reads.
# Columns and units: src/mixrep/features/columns.py and docs/features.md.


rule merge_features:
    input:
        features_shard_tables,
    output:
        f"{RESULTS}/features.parquet",
    log:
        f"{RESULTS}/logs/merge_features/all.log",
    benchmark:
        f"{RESULTS}/benchmarks/merge_features/all.tsv"
    params:
        settings=get_settings("features"),
        code=get_code_version("mixrep.features.cli"),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../../envs/mixrep.yaml"
    shell:
        "mixrep merge-features --inputs {input:q} --out {output:q} --settings {params.settings:q} > {log:q} 2>&1"
