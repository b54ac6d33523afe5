# Analyse: one pass per shard (docs/degrade.md, docs/features.md, docs/pretrain.md). Stems are read once per
# track (the centred analysis.excerpt_s seconds), every variant is rendered ONCE, and from that render come
# its recipe + severity, its whole-variant features, its log-Mels and the features of every encoder view.
# The log's last line says how many renders were made (= variants). mem_mb: benchmarks/analyse.py measured a
# peak RSS of 1.09 GB for a one-track shard with a 1-minute or a 20-minute track (flat: the excerpt bounds it);
# a 16-track shard adds its Mel store (~145 MiB, held until written): 2 GB leaves room.


rule analyse:
    input:
        stems=f"{RESULTS}/stems/{{shard}}/index.parquet",
    output:
        recipes=f"{RESULTS}/variants/{{shard}}/recipes.parquet",
        rejected=f"{RESULTS}/variants/{{shard}}/rejected.csv",
        features=f"{RESULTS}/features/{{shard}}.parquet",
        features_rejected=f"{RESULTS}/features/{{shard}}.rejected.csv",
        segments=f"{RESULTS}/features/segments/{{shard}}.parquet",
        mels=f"{RESULTS}/mels/{{shard}}.npz",
    log:
        f"{RESULTS}/logs/analyse/{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/analyse/{{shard}}.tsv"
    params:
        settings=get_settings("analysis", "degrade", "features", "pretrain"),
        code=get_code_version("mixrep.analyse.cli"),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    conda:
        "../../envs/mixrep.yaml"
    shell:
        "mixrep analyse --stems {input.stems:q} --recipes {output.recipes:q} --rejected {output.rejected:q}"
        " --features {output.features:q} --features-rejected {output.features_rejected:q}"
        " --segments {output.segments:q} --mels {output.mels:q} --threads {threads}"
        " --settings {params.settings:q} > {log:q} 2>&1"
