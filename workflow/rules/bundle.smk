# Model bundle (docs/analyze.md): what `mixrep analyze | compare | transfer-file` need to run on a person's own
# music without the workflow: separator, the default cell's encoder (first seed) and regressor, the reference
# mixes' embeddings and per-genre feature norms, settings and code versions, with a sha256 manifest.


rule bundle:
    input:
        separator=separation_checkpoint,
        encoder=f"{RESULTS}/pretrain/{DEFAULT_RUN}/seed{SEEDS[0]}/encoder.pt",
        regressor=f"{RESULTS}/regress/{DEFAULT_RUN}/regressor.pt",
        predictions=f"{RESULTS}/regress/{DEFAULT_RUN}/predictions.parquet",
        embeddings=f"{RESULTS}/embed/{DEFAULT_RUN}/seed{SEEDS[0]}.parquet",
        features=f"{RESULTS}/features.parquet",
    output:
        manifest=f"{RESULTS}/bundle/manifest.json",
    log:
        f"{RESULTS}/logs/bundle/bundle.log",
    benchmark:
        f"{RESULTS}/benchmarks/bundle/bundle.tsv"
    params:
        settings=lambda wildcards: json.dumps({"run": DEFAULT_RUN, "seed": SEEDS[0], "features": config["features"],
                                               "separation": config["separation"], "transfer": config["transfer"]},
                                              sort_keys=True),
        code=json.dumps({stage: get_code_version(f"mixrep.{stage}.cli") for stage in ("separation", "features",
                        "pretrain", "evaluation", "transfer", "apps")}, sort_keys=True),
        separator=lambda wildcards, input: f"--separator '{input.separator}'" if input.separator else "",
        out_dir=lambda wildcards, output: os.path.dirname(output.manifest),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/mixrep.yaml"
    shell:
        "mixrep bundle build {params.separator} --encoder {input.encoder:q} --regressor {input.regressor:q}"
        " --predictions {input.predictions:q} --embeddings {input.embeddings:q} --features {input.features:q}"
        " --settings {params.settings:q} --code-versions {params.code:q} --out {params.out_dir:q} > {log:q} 2>&1"
