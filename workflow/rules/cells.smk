# Catch-all for targets of a cell that does not exist (results/regress/film-bogus/metrics.json, ...). Without it
# Snakemake answers `MissingRuleException` and never says which cells exist; this rule matches only such
# paths (its wildcard excludes every valid cell and random-init) and its input function stops the DAG with one
# line naming the cells (common.smk: unknown_cell). Its job never runs.


rule unknown_cell:
    input:
        unknown_cell,
    output:
        f"{RESULTS}/{{stage}}/{{cell}}/{{rest}}",
    log:
        f"{RESULTS}/logs/unknown_cell/{{stage}}/{{cell}}/{{rest}}.log",
    wildcard_constraints:
        stage="|".join(workflow_config.CELL_STAGES),
        cell=workflow_config.unknown_cell_pattern(),
        rest=".+",
    conda:
        "../../envs/mixrep.yaml"
    shell:
        "echo 'unknown cell {wildcards.cell}' > {log:q}; false"
