# Separation: the separator of separation.method (mixrep.separation.separators: SCNet with a given checkpoint or
# one trained here on the corpus's train-split stems, or the oracle's true stems). Per shard: stems + index.
# Evaluation on the test split reads the separated stems of the shards (docs/separation.md). Input functions
# (separation_checkpoint, SEPARATOR_DIR) live in common.smk.

rule train_separator:
    input:
        manifest=f"{RESULTS}/manifest/manifest.parquet",
    output:
        checkpoint=f"{SEPARATOR_DIR}/checkpoint.th",
        curve=f"{SEPARATOR_DIR}/curve.csv",
        plot=report(f"{SEPARATOR_DIR}/curve.png", category="Separation"),
    log:
        f"{RESULTS}/logs/train_separator/train_separator.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_separator/train_separator.tsv"
    params:
        settings=get_settings("separation"),
        code=get_code_version("mixrep.separation.cli"),
    threads: 2
    resources:
        mem_mb=6000,
        runtime=60,
    conda:
        "../../envs/mixrep.yaml"
    shell:
        "mixrep train-separator --manifest {input.manifest:q} --checkpoint {output.checkpoint:q}"
        " --threads {threads} --settings {params.settings:q} > {log:q} 2>&1"


rule separate:
    input:
        manifest=f"{RESULTS}/manifest/manifest.parquet",
        shards=f"{RESULTS}/manifest/shards.json",
        checkpoint=separation_checkpoint,
    output:
        index=f"{RESULTS}/stems/{{shard}}/index.parquet",
    log:
        f"{RESULTS}/logs/separate/{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/separate/{{shard}}.tsv"
    params:
        settings=get_settings("separation"),
        code=get_code_version("mixrep.separation.cli"),
    threads: 2
    resources:
        # streaming separation: flat in track length, ~1.9 GB peak for the cpu model with 2 chunks a batch
        # (benchmarks/separate_memory.py, docs/separation.md); raise it for a larger batch_size or model
        mem_mb=3000,
        runtime=120,
        device="auto",  # the separator's torch device: profiles override it (set-resources), e.g. cuda:0
    conda:
        "../../envs/mixrep.yaml"
    shell:
        "mixrep separate --manifest {input.manifest:q} --shards {input.shards:q} --shard {wildcards.shard}"
        " --checkpoint {input.checkpoint:q} --out {output.index:q} --threads {threads} --device {resources.device}"
        " --settings {params.settings:q} > {log:q} 2>&1"


rule eval_separation:
    input:
        manifest=f"{RESULTS}/manifest/manifest.parquet",
        indexes=separation_stem_indexes,
    output:
        json=f"{RESULTS}/separation/eval.json",
        md=report(f"{RESULTS}/separation/eval.md", category="Separation"),
    log:
        f"{RESULTS}/logs/eval_separation/eval_separation.log",
    benchmark:
        f"{RESULTS}/benchmarks/eval_separation/eval_separation.tsv"
    params:
        settings=get_settings("separation"),
        code=get_code_version("mixrep.separation.cli"),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../../envs/mixrep.yaml"
    shell:
        "mixrep eval-separation --manifest {input.manifest:q} --stems-index {input.indexes:q}"
        " --out-json {output.json:q} --out-md {output.md:q} --threads {threads} --settings {params.settings:q}"
        " > {log:q} 2>&1"
