# Plan: right after the manifest checkpoint, the run's jobs per rule, disk per stage, peak memory and
# CPU/GPU-hours (mixrep.plan), printed to the console and kept in results/plan/plan.txt.


rule plan:
    input:
        manifest=f"{RESULTS}/manifest/manifest.parquet",
        shards=f"{RESULTS}/manifest/shards.json",
    output:
        f"{RESULTS}/plan/plan.txt",
    log:
        f"{RESULTS}/logs/plan/plan.log",
    benchmark:
        f"{RESULTS}/benchmarks/plan/plan.tsv"
    params:
        config=json.dumps(config, sort_keys=True),
        rules=os.path.join(workflow.basedir, "workflow", "rules"),
        code=get_code_version("mixrep.plan"),
    priority: 100  # first job after the manifest checkpoint: the plan is printed before any heavy stage
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    localrule: True
    conda:
        "../../envs/mixrep.yaml"
    shell:
        "mixrep plan --manifest {input.manifest:q} --config-json {params.config:q} --rules-dir {params.rules:q}"
        " 2> {log:q} | tee {output:q}"
