# Manifest checkpoint: every input file probed and decoded once -> manifest, shards, summary.
# The shards it writes decide the per-shard fan-out of every later stage (common.smk: get_shards).


checkpoint manifest:
    input:
        corpus=manifest_corpus,
        metadata=manifest_metadata,
    output:
        manifest=f"{RESULTS}/manifest/manifest.parquet",
        shards=f"{RESULTS}/manifest/shards.json",
        summary=f"{RESULTS}/manifest/summary.txt",
    log:
        f"{RESULTS}/logs/manifest/manifest.log",
    benchmark:
        f"{RESULTS}/benchmarks/manifest/manifest.tsv"
    params:
        settings=get_settings("dataset"),
        code=get_code_version("mixrep.datasets.cli"),
    threads: 4
    resources:
        mem_mb=8000,
        runtime=120,
    conda:
        "../../envs/mixrep.yaml"
    shell:
        "mixrep manifest {input.corpus:q} --manifest {output.manifest:q} --shards {output.shards:q}"
        " --summary {output.summary:q} --jobs {threads} --settings {params.settings:q} > {log:q} 2>&1"
