# Stage 1 — datasets in the prepared split format (camsweep.data.imageset).


rule prepare_synthetic:
    output:
        expand("results/data/{{dataset}}/{split}.npz", split=SPLITS),
    log:
        log_path("prepare_synthetic", "dataset"),
    benchmark:
        benchmark_path("prepare_synthetic", "dataset")
    conda:
        ENV
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        dataset=lambda wc: canonical(config["datasets"][wc.dataset]),
        seed=config["seed"],
    script:
        "../scripts/prepare_synthetic.py"
