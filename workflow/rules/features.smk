# Features: per shard, the structured mixing features (dynamics, spectral, stereo, masking) of every
# track x variant, rendered on the fly from the stems and the recipes; then one merged table.
# Columns and units: src/mixrep/features/columns.py and docs/features.md.


rule features:
    input:
        stems=f"{RESULTS}/stems/{{shard}}/index.parquet",
        recipes=f"{RESULTS}/variants/{{shard}}/recipes.parquet",
    output:
        table=f"{RESULTS}/features/{{shard}}.parquet",
        rejected=f"{RESULTS}/features/{{shard}}.rejected.csv",
    log:
        f"{RESULTS}/logs/features/{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/features/{{shard}}.tsv"
    params:
        settings=get_settings("features"),
        code=get_code_version("features", "degrade"),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../../envs/mixrep.yaml"
    shell:
        "mixrep features --stems {input.stems:q} --recipes {input.recipes:q} --out {output.table:q}"
        " --rejected {output.rejected:q} --settings {params.settings:q} > {log:q} 2>&1"


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
        code=get_code_version("features"),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../../envs/mixrep.yaml"
    shell:
        "mixrep merge-features --inputs {input:q} --out {output:q} --settings {params.settings:q} > {log:q} 2>&1"
