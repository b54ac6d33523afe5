# Style transfer (docs/transfer.md): stem-aware ST-ITO. CMA-ES searches per-stem effect chains so that the
# default cell's embedding of the processed source approaches the target's; cross-genre pairs of the test split.


rule transfer:
    input:
        manifest=f"{RESULTS}/manifest/manifest.parquet",
        stems=transfer_stems,
        encoder=f"{RESULTS}/pretrain/{DEFAULT_RUN}/seed{SEEDS[0]}/encoder.pt",
    output:
        summary=report(f"{RESULTS}/transfer/summary.csv", caption="../report/transfer_table.rst",
                       category="Style transfer"),
        markdown=f"{RESULTS}/transfer/summary.md",
    log:
        f"{RESULTS}/logs/transfer/transfer.log",
    benchmark:
        f"{RESULTS}/benchmarks/transfer/transfer.tsv"
    params:
        settings=get_settings("transfer", "features"),
        code=get_code_version("mixrep.transfer.cli"),
        out_dir=transfer_out_dir,
    priority: 10  # needs only the default cell's first seed: run it then, not as the run's last job
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
        device="cpu",  # the encoder's torch device: profiles override it (set-resources), e.g. auto or cuda:0
    conda:
        "../../envs/mixrep.yaml"
    shell:
        "mixrep transfer --manifest {input.manifest:q} --stems-index {input.stems:q} --encoder {input.encoder:q}"
        " --out-dir {params.out_dir:q} --summary {output.summary:q} --threads {threads} --device {resources.device}"
        " --settings {params.settings:q} > {log:q} 2>&1"
