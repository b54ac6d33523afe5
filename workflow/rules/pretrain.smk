# Stage 1: contrastive pretraining per ablation cell and seed, embeddings. The Mel store and the per-segment
# features (each view's own conditioning) are written by the analyse pass (analyse.smk).
# docs/pretrain.md describes the model, the objective and every output.
# results/mels/{shard}.npz is the time-major Mel store that pretrain and embed stream segments from
# (mixrep.pretrain.mels.MelStore): their memory does not grow with the number of shards.


rule pretrain:
    input:
        mels=pretrain_mels,
        segments=pretrain_segments,
        recipes=evaluation_recipes,
        features=f"{RESULTS}/features.parquet",
        manifest=f"{RESULTS}/manifest/manifest.parquet",
    output:
        checkpoint=f"{RESULTS}/pretrain/{{run}}/seed{{seed}}/encoder.pt",
        log_csv=f"{RESULTS}/pretrain/{{run}}/seed{{seed}}/log.csv",
        plot=report(f"{RESULTS}/pretrain/{{run}}/seed{{seed}}/loss.png", caption="../report/pretrain_loss.rst",
                    category="Stage 1 pretraining"),
        metrics=f"{RESULTS}/pretrain/{{run}}/seed{{seed}}/metrics.json",
    log:
        f"{RESULTS}/logs/pretrain/{{run}}/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/pretrain/{{run}}/seed{{seed}}.tsv"
    params:
        settings=get_settings("pretrain", "dataset"),
        code=get_code_version("mixrep.pretrain.cli"),
    threads: 1
    # pretrain_procs: data-parallel processes on the job's node (one GPU each on CUDA; docs/pretrain.md,
    # "Several GPUs"). A runtime setting, not experiment config: profiles set it with the GPU request.
    resources:
        mem_mb=4000,
        runtime=60,
        device="auto",  # a runtime setting: profiles override it (set-resources), auto = cuda when present
        pretrain_procs=1,
    conda:
        "../../envs/mixrep.yaml"
    shell:
        "mixrep pretrain --mels {input.mels:q} --features {input.features:q} --manifest {input.manifest:q}"
        " --segments {input.segments:q} --recipes {input.recipes:q}"
        " --run {wildcards.run} --seed {wildcards.seed} --checkpoint {output.checkpoint:q}"
        " --log-csv {output.log_csv:q} --plot {output.plot:q} --metrics {output.metrics:q}"
        " --nproc {resources.pretrain_procs} --threads {threads} --device {resources.device}"
        " --settings {params.settings:q} > {log:q} 2>&1"


rule embed:
    input:
        checkpoint=f"{RESULTS}/pretrain/{{run}}/seed{{seed}}/encoder.pt",
        mels=pretrain_mels,
        segments=pretrain_segments,
        features=f"{RESULTS}/features.parquet",
        manifest=f"{RESULTS}/manifest/manifest.parquet",
    output:
        embeddings=f"{RESULTS}/embed/{{run}}/seed{{seed}}.parquet",
        views=f"{RESULTS}/embed/{{run}}/seed{{seed}}.views.parquet",
    log:
        f"{RESULTS}/logs/embed/{{run}}/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/embed/{{run}}/seed{{seed}}.tsv"
    wildcard_constraints:
        run=r"none(-recipe)?",
    params:
        settings=get_settings("pretrain", "dataset"),
        code=get_code_version("mixrep.pretrain.cli"),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
        device="auto",  # a runtime setting: profiles override it (set-resources), auto = cuda when present
    conda:
        "../../envs/mixrep.yaml"
    shell:
        "mixrep embed --checkpoint {input.checkpoint:q} --mels {input.mels:q} --features {input.features:q}"
        " --segments {input.segments:q} --manifest {input.manifest:q} --seed {wildcards.seed}"
        " --out {output.embeddings:q} --threads {threads} --device {resources.device}"
        " --settings {params.settings:q} > {log:q} 2>&1"


# A conditioned cell is embedded twice in one job (the Mels are read once): as trained, and with its features
# zeroed (`<run>.audio-only`, the audio-only control of docs/evaluation.md).
rule embed_conditioned:
    input:
        checkpoint=f"{RESULTS}/pretrain/{{run}}/seed{{seed}}/encoder.pt",
        mels=pretrain_mels,
        segments=pretrain_segments,
        features=f"{RESULTS}/features.parquet",
        manifest=f"{RESULTS}/manifest/manifest.parquet",
    output:
        embeddings=f"{RESULTS}/embed/{{run}}/seed{{seed}}.parquet",
        views=f"{RESULTS}/embed/{{run}}/seed{{seed}}.views.parquet",
        audio_only=f"{RESULTS}/embed/{{run}}.audio-only/seed{{seed}}.parquet",
        audio_only_views=f"{RESULTS}/embed/{{run}}.audio-only/seed{{seed}}.views.parquet",
    log:
        f"{RESULTS}/logs/embed/{{run}}/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/embed/{{run}}/seed{{seed}}.tsv"
    wildcard_constraints:
        run="(" + "|".join(CONDITIONINGS) + r")-[a-z_]+(-recipe)?",  # every registered mechanism (mixrep.runs)
    params:
        settings=get_settings("pretrain", "dataset"),
        code=get_code_version("mixrep.pretrain.cli"),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
        device="auto",  # a runtime setting: profiles override it (set-resources), auto = cuda when present
    conda:
        "../../envs/mixrep.yaml"
    shell:
        "mixrep embed --checkpoint {input.checkpoint:q} --mels {input.mels:q} --features {input.features:q}"
        " --segments {input.segments:q} --manifest {input.manifest:q} --seed {wildcards.seed}"
        " --out {output.embeddings:q} --audio-only-out {output.audio_only:q}"
        " --threads {threads} --device {resources.device}"
        " --settings {params.settings:q} > {log:q} 2>&1"


rule embed_random:
    input:
        mels=pretrain_mels,
        segments=pretrain_segments,
        features=f"{RESULTS}/features.parquet",
        manifest=f"{RESULTS}/manifest/manifest.parquet",
    output:
        embeddings=f"{RESULTS}/embed/random-init/seed{{seed}}.parquet",
        views=f"{RESULTS}/embed/random-init/seed{{seed}}.views.parquet",
    log:
        f"{RESULTS}/logs/embed_random/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/embed_random/seed{{seed}}.tsv"
    params:
        settings=get_settings("pretrain", "dataset"),
        code=get_code_version("mixrep.pretrain.cli"),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
        device="auto",  # a runtime setting: profiles override it (set-resources), auto = cuda when present
    conda:
        "../../envs/mixrep.yaml"
    shell:
        "mixrep embed --random-init film-all --mels {input.mels:q} --features {input.features:q}"
        " --segments {input.segments:q} --manifest {input.manifest:q} --seed {wildcards.seed}"
        " --out {output.embeddings:q} --threads {threads} --device {resources.device}"
        " --settings {params.settings:q} > {log:q} 2>&1"


# Non-learned controls (features-only, levels): no weights, so one table serves every seed.
rule embed_control:
    input:
        mels=pretrain_mels,
        segments=pretrain_segments,
        features=f"{RESULTS}/features.parquet",
        manifest=f"{RESULTS}/manifest/manifest.parquet",
    output:
        embeddings=f"{RESULTS}/embed/{{control}}/seed{{seed}}.parquet",
        views=f"{RESULTS}/embed/{{control}}/seed{{seed}}.views.parquet",
    log:
        f"{RESULTS}/logs/embed_control/{{control}}/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/embed_control/{{control}}/seed{{seed}}.tsv"
    wildcard_constraints:
        control="|".join(EMBED_CONTROLS),
    params:
        settings=get_settings("pretrain", "dataset"),
        code=get_code_version("mixrep.pretrain.cli"),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
        device="auto",  # a runtime setting: profiles override it (set-resources), auto = cuda when present
    conda:
        "../../envs/mixrep.yaml"
    shell:
        "mixrep embed --control {wildcards.control} --mels {input.mels:q} --features {input.features:q}"
        " --segments {input.segments:q} --manifest {input.manifest:q} --seed {wildcards.seed}"
        " --out {output.embeddings:q} --threads {threads} --device {resources.device}"
        " --settings {params.settings:q} > {log:q} 2>&1"
