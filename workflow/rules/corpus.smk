# Synthetic multitrack corpus (dataset.source: synthetic): MIDI arrangements rendered per stem with FluidSynth,
# mixed per genre style, written as results/corpus/tracks/<track_id>/{mixture,vocals,bass,drums,other}.wav.
# metadata.parquet is written last, so it marks a complete corpus. The manifest requests it only for the
# synthetic source (manifest.smk: manifest_inputs). Parallel over tracks with a process pool of {threads}
# (Snakemake lowers 8 to --cores when fewer are given; profiles may set it).


rule corpus:
    input:
        soundfont=corpus_soundfont,
    output:
        metadata=f"{RESULTS}/corpus/metadata.parquet",
    log:
        f"{RESULTS}/logs/corpus/corpus.log",
    benchmark:
        f"{RESULTS}/benchmarks/corpus/corpus.tsv"
    params:
        settings=get_settings("synthetic"),
        code=get_code_version("mixrep.corpus.cli"),
        out=corpus_out_dir,
    threads: 8
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../../envs/mixrep.yaml"
    shell:
        "mixrep corpus --out {params.out:q} --jobs {threads} --settings {params.settings:q} > {log:q} 2>&1"
