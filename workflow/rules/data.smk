# Stage 1 — datasets in the prepared split format (camsweep.data.imageset).
# Synthetic datasets are generated; real ones are located (downloaded where the source allows it) by
# download_dataset, then read and converted by prepare_dataset.


rule prepare_synthetic:
    output:
        expand("results/data/{{dataset}}/{split}.npz", split=SPLITS),
    log:
        log_path("prepare_synthetic", "dataset"),
    benchmark:
        benchmark_path("prepare_synthetic", "dataset")
    wildcard_constraints:
        dataset="|".join(SYNTHETIC_DATASETS) or "^$",
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


rule download_dataset:
    output:
        "results/downloads/{dataset}.json",
    log:
        log_path("download_dataset", "dataset"),
    benchmark:
        benchmark_path("download_dataset", "dataset")
    wildcard_constraints:
        dataset="|".join(REAL_DATASETS) or "^$",
    conda:
        ENV
    resources:
        mem_mb=2000,
        runtime=120,
    params:
        name=lambda wc: wc.dataset,
        dataset=lambda wc: canonical(config["datasets"][wc.dataset]),
    script:
        "../scripts/download_dataset.py"


rule prepare_dataset:
    input:
        "results/downloads/{dataset}.json",
    output:
        expand("results/data/{{dataset}}/{split}.npz", split=SPLITS),
    log:
        log_path("prepare_dataset", "dataset"),
    benchmark:
        benchmark_path("prepare_dataset", "dataset")
    wildcard_constraints:
        dataset="|".join(REAL_DATASETS) or "^$",
    conda:
        ENV
    resources:
        mem_mb=8000,
        runtime=60,
    params:
        name=lambda wc: wc.dataset,
        dataset=lambda wc: canonical(config["datasets"][wc.dataset]),
        seed=config["seed"],
    script:
        "../scripts/prepare_dataset.py"
