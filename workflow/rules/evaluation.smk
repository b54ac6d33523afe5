# Stage 2 and evaluation (docs/evaluation.md): rated mixes, mix-quality regression and t-SNE per ablation cell,
# and the summary of the grid. Each cell is its own chain: `snakemake results/regress/prepend-no_masking/metrics.json`
# builds that cell's encoder, the random-init encoder and the cell's `none` twin, and nothing else.


rule ratings:
    input:
        manifest=f"{RESULTS}/manifest/manifest.parquet",
        recipes=ratings_recipes,
        csv=ratings_csv,
    output:
        ratings=f"{RESULTS}/ratings/ratings.parquet",
        rejected=report(f"{RESULTS}/ratings/rejected.csv", caption="../report/ratings_rejected.rst",
                        category="Ratings"),
    log:
        f"{RESULTS}/logs/ratings/ratings.log",
    benchmark:
        f"{RESULTS}/benchmarks/ratings/ratings.tsv"
    params:
        settings=get_settings("ratings", "dataset"),
        code=get_code_version("ratings"),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../../envs/mixrep.yaml"
    shell:
        "mixrep ratings --manifest {input.manifest:q} --recipes {input.recipes:q} --csv {input.csv:q}"
        " --out {output.ratings:q} --rejected {output.rejected:q} --settings {params.settings:q} > {log:q} 2>&1"


rule regress:
    input:
        ratings=f"{RESULTS}/ratings/ratings.parquet",
        embeddings=regress_embeddings,
        random=regress_random_embeddings,
        none=regress_none_embeddings,
        features=f"{RESULTS}/features.parquet",
    output:
        metrics=f"{RESULTS}/regress/{{run}}/metrics.json",
        scatter=report(f"{RESULTS}/regress/{{run}}/scatter.png", caption="../report/regress_scatter.rst",
                       category="Quality regression", subcategory="{run}"),
        predictions=f"{RESULTS}/regress/{{run}}/predictions.parquet",
        regressor=f"{RESULTS}/regress/{{run}}/regressor.pt",
    log:
        f"{RESULTS}/logs/regress/{{run}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/regress/{{run}}.tsv"
    params:
        settings=get_settings("regress"),
        code=get_code_version("evaluation"),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../../envs/mixrep.yaml"
    shell:
        "mixrep regress --run {wildcards.run} --ratings {input.ratings:q} --embeddings {input.embeddings:q}"
        " --random-embeddings {input.random:q} --none-embeddings {input.none:q} --features {input.features:q}"
        " --metrics {output.metrics:q} --scatter {output.scatter:q} --predictions {output.predictions:q}"
        " --regressor {output.regressor:q} --threads {threads} --settings {params.settings:q} > {log:q} 2>&1"


rule tsne:
    input:
        embeddings=regress_embeddings,
        recipes=evaluation_recipes,
        features=f"{RESULTS}/features.parquet",
    output:
        metrics=f"{RESULTS}/tsne/{{run}}/metrics.json",
        plot=report(f"{RESULTS}/tsne/{{run}}/tsne.png", caption="../report/tsne.rst",
                    category="t-SNE", subcategory="{run}"),
    log:
        f"{RESULTS}/logs/tsne/{{run}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/tsne/{{run}}.tsv"
    params:
        settings=get_settings("tsne"),
        code=get_code_version("evaluation"),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../../envs/mixrep.yaml"
    shell:
        "mixrep tsne --run {wildcards.run} --embeddings {input.embeddings:q} --recipes {input.recipes:q}"
        " --features {input.features:q} --metrics {output.metrics:q} --plot {output.plot:q}"
        " --threads {threads} --settings {params.settings:q} > {log:q} 2>&1"


rule ablation_summary:
    input:
        regress=ablation_regress,
        tsne=ablation_tsne,
        pretrain=ablation_pretrain,
    output:
        csv=report(f"{RESULTS}/ablation/summary.csv", caption="../report/ablation_table.rst",
                   category="Ablation grid"),
        markdown=f"{RESULTS}/ablation/summary.md",
        plot=report(f"{RESULTS}/ablation/summary.png", caption="../report/ablation_plot.rst",
                    category="Ablation grid"),
    log:
        f"{RESULTS}/logs/ablation_summary/summary.log",
    benchmark:
        f"{RESULTS}/benchmarks/ablation_summary/summary.tsv"
    params:
        runs=RUNS,
        seeds=SEEDS,
        code=get_code_version("evaluation"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/mixrep.yaml"
    shell:
        "mixrep ablation-summary --runs {params.runs} --seeds {params.seeds} --regress-metrics {input.regress:q}"
        " --tsne-metrics {input.tsne:q} --pretrain-metrics {input.pretrain:q} --csv {output.csv:q}"
        " --markdown {output.markdown:q} --plot {output.plot:q} > {log:q} 2>&1"
