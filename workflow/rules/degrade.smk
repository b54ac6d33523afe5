# Degrade: per shard, draw the recipes of every track x variant (variant 0 = the reference remix), render each
# once to score its severity and check its peak. Only the recipes are stored; rendered audio is re-made on
# demand by mixrep.degrade.render_variant / iter_variants (docs/degrade.md, "Storage").


rule degrade:
    input:
        stems=f"{RESULTS}/stems/{{shard}}/index.parquet",
    output:
        recipes=f"{RESULTS}/variants/{{shard}}/recipes.parquet",
        rejected=f"{RESULTS}/variants/{{shard}}/rejected.csv",
    log:
        f"{RESULTS}/logs/degrade/{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/degrade/{{shard}}.tsv"
    params:
        settings=get_settings("degrade"),
        code=get_code_version("degrade"),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../../envs/mixrep.yaml"
    shell:
        "mixrep degrade --stems {input.stems:q} --out {output.recipes:q} --rejected {output.rejected:q}"
        " --settings {params.settings:q} > {log:q} 2>&1"
