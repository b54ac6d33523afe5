# Stage 2 and evaluation (docs/evaluation.md): rated mixes, mix-quality regression and t-SNE per ablation cell,
# and the summary of the grid. Each cell is its own chain: `snakemake results/regress/prepend-no_masking/metrics.json`
# builds that cell's encoder, the random-init encoder and the cell's `none` twin, and nothing else.


rule ratings:
    input:
        manifest=f"{RESULTS}/manifest/manifest.parquet",
        recipes=ratings_recipes,
        csv=ratings_csv,
        metadata=crossed_metadata,
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
        code=get_code_version("mixrep.ratings.cli"),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../../envs/mixrep.yaml"
    shell:
        "mixrep ratings --manifest {input.manifest:q} --recipes {input.recipes:q} --csv {input.csv:q}"
        " --metadata {input.metadata:q}"
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
        code=get_code_version("mixrep.evaluation.cli"),
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
        code=get_code_version("mixrep.evaluation.cli"),
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


rule evaluate:
    input:
        embeddings=evaluate_embeddings,
        views=evaluate_views,
        ratings=f"{RESULTS}/ratings/ratings.parquet",
        recipes=evaluation_recipes,
        manifest=f"{RESULTS}/manifest/manifest.parquet",
        metadata=crossed_metadata,
    output:
        units=f"{RESULTS}/evaluate/{{source}}/units.parquet",
        metrics=f"{RESULTS}/evaluate/{{source}}/metrics.json",
        crossed=f"{RESULTS}/crossed/{{source}}/metrics.json",
        crossed_plot=report(f"{RESULTS}/crossed/{{source}}/tsne.png", caption="../report/crossed.rst",
                            category="Crossed content x style", subcategory="{source}"),
    log:
        f"{RESULTS}/logs/evaluate/{{source}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate/{{source}}.tsv"
    wildcard_constraints:
        source="|".join(re.escape(s) for s in ALL_EMBEDDED_SOURCES),
    params:
        seeds=SEEDS,
        settings=get_settings("regress", "evaluate"),
        code=get_code_version("mixrep.evaluation.cli"),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../../envs/mixrep.yaml"
    shell:
        "mixrep evaluate --source {wildcards.source} --embeddings {input.embeddings:q} --views {input.views:q}"
        " --seeds {params.seeds} --ratings {input.ratings:q} --recipes {input.recipes:q}"
        " --manifest {input.manifest:q} --metadata {input.metadata:q} --units {output.units:q}"
        " --metrics {output.metrics:q} --crossed-metrics {output.crossed:q} --crossed-plot {output.crossed_plot:q}"
        " --threads {threads} --settings {params.settings:q} > {log:q} 2>&1"


# The quality-only controls (is-reference, severity): no embedding, the same K-fold protocol.
rule evaluate_control:
    input:
        ratings=f"{RESULTS}/ratings/ratings.parquet",
        recipes=evaluation_recipes,
        manifest=f"{RESULTS}/manifest/manifest.parquet",
    output:
        units=f"{RESULTS}/evaluate/{{source}}/units.parquet",
        metrics=f"{RESULTS}/evaluate/{{source}}/metrics.json",
    log:
        f"{RESULTS}/logs/evaluate/{{source}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate/{{source}}.tsv"
    wildcard_constraints:
        source="|".join(QUALITY_CONTROLS),
    params:
        seeds=SEEDS,
        settings=get_settings("regress", "evaluate"),
        code=get_code_version("mixrep.evaluation.cli"),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../../envs/mixrep.yaml"
    shell:
        "mixrep evaluate --source {wildcards.source} --seeds {params.seeds} --ratings {input.ratings:q}"
        " --recipes {input.recipes:q} --manifest {input.manifest:q} --units {output.units:q}"
        " --metrics {output.metrics:q} --threads {threads} --settings {params.settings:q} > {log:q} 2>&1"


rule crossed_summary:
    input:
        crossed_metrics,
    output:
        csv=report(f"{RESULTS}/crossed/summary.csv", caption="../report/crossed.rst",
                   category="Crossed content x style"),
        markdown=f"{RESULTS}/crossed/summary.md",
    log:
        f"{RESULTS}/logs/crossed/summary.log",
    benchmark:
        f"{RESULTS}/benchmarks/crossed/summary.tsv"
    params:
        code=get_code_version("mixrep.evaluation.cli"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/mixrep.yaml"
    shell:
        "mixrep crossed-summary --metrics {input:q} --csv {output.csv:q} --markdown {output.markdown:q}"
        " > {log:q} 2>&1"


rule ablation_summary:
    input:
        units=summary_units,
        ratings=f"{RESULTS}/ratings/ratings.parquet",
    output:
        csv=report(f"{RESULTS}/ablation/summary.csv", caption="../report/ablation_table.rst",
                   category="Ablation grid"),
        comparisons=f"{RESULTS}/ablation/comparisons.csv",
        markdown=f"{RESULTS}/ablation/summary.md",
        plot=report(f"{RESULTS}/ablation/summary.png", caption="../report/ablation_plot.rst",
                    category="Ablation grid"),
    log:
        f"{RESULTS}/logs/ablation_summary/summary.log",
    benchmark:
        f"{RESULTS}/benchmarks/ablation_summary/summary.tsv"
    params:
        runs=RUNS,
        settings=get_settings("evaluate"),
        code=get_code_version("mixrep.evaluation.cli"),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    conda:
        "../../envs/mixrep.yaml"
    shell:
        "mixrep ablation-summary --runs {params.runs} --units {input.units:q} --ratings {input.ratings:q}"
        " --csv {output.csv:q} --comparisons {output.comparisons:q} --markdown {output.markdown:q}"
        " --plot {output.plot:q} --settings {params.settings:q} > {log:q} 2>&1"
