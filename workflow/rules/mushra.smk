# MUSHRA (docs/mushra.md): a ready-to-serve webMUSHRA experiment (hidden reference, graded degradations, the
# style transfer, the unprocessed source, BS.1534-3 anchors) and, once ratings exist, their analysis.


MUSHRA_ANALYSIS_KEYS = ("results_csv", "drop_untouched", "bootstrap", "screening")


rule mushra_package:
    input:
        transfer=f"{RESULTS}/transfer/summary.csv",
        manifest=f"{RESULTS}/manifest/manifest.parquet",
        stems=mushra_stems,
        recipes=mushra_recipes,
        encoder=f"{RESULTS}/pretrain/{DEFAULT_RUN}/seed{SEEDS[0]}/encoder.pt",
        regressor=f"{RESULTS}/regress/{DEFAULT_RUN}/regressor.pt",
    output:
        config=f"{RESULTS}/mushra/package/configs/mixrep.yaml",
        stimuli=f"{RESULTS}/mushra/package/stimuli.parquet",
    log:
        f"{RESULTS}/logs/mushra_package/mushra_package.log",
    benchmark:
        f"{RESULTS}/benchmarks/mushra_package/mushra_package.tsv"
    params:
        settings=mushra_package_settings,
        code=get_code_version("mixrep.mushra.cli"),
        out_dir=mushra_package_dir,
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
        device="cpu",  # the encoder's torch device (predicted quality): profiles override it (set-resources)
    conda:
        "../../envs/mixrep.yaml"
    shell:
        "mixrep mushra-package --transfer-summary {input.transfer:q} --manifest {input.manifest:q}"
        " --stems-index {input.stems:q} --recipes {input.recipes:q} --encoder {input.encoder:q}"
        " --regressor {input.regressor:q} --out-dir {params.out_dir:q} --threads {threads} --device {resources.device}"
        " --settings {params.settings:q} > {log:q} 2>&1"


rule mushra_analysis:
    input:
        results=mushra_results_csv,
        stimuli=f"{RESULTS}/mushra/package/stimuli.parquet",
    output:
        summary=f"{RESULTS}/mushra/analysis/summary.json",
        conditions=f"{RESULTS}/mushra/analysis/conditions.csv",
        boxplot=report(f"{RESULTS}/mushra/analysis/boxplot.png", caption="../report/mushra_boxplot.rst",
                       category="MUSHRA"),
    log:
        f"{RESULTS}/logs/mushra_analysis/mushra_analysis.log",
    benchmark:
        f"{RESULTS}/benchmarks/mushra_analysis/mushra_analysis.tsv"
    params:
        settings=get_settings("mushra"),
        code=get_code_version("mixrep.mushra.cli"),
        out_dir=mushra_analysis_dir,
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/mixrep.yaml"
    shell:
        "mixrep mushra-analysis --results {input.results:q} --stimuli {input.stimuli:q} --out-dir {params.out_dir:q}"
        " --settings {params.settings:q} > {log:q} 2>&1"
