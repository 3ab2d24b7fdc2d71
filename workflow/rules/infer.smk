# Stage 4 — class probabilities for every condition.


rule predict:
    input:
        model="results/models/{dataset}/{model}.pt",
        images="results/perturbed/{dataset}/{perturbation}/{severity}.npz",
        split="results/data/{dataset}/test.npz",
    output:
        "results/predictions/{dataset}/{model}/{perturbation}/{severity}.parquet",
    log:
        log_path("predict", "dataset", "model", "perturbation", "severity"),
    benchmark:
        benchmark_path("predict", "dataset", "model", "perturbation", "severity")
    conda:
        ENV
    resources:
        **GPU_RESOURCES,
        mem_mb=3000,
        runtime=20,
    params:
        batch_size=config["inference"]["batch_size"],
        device=config["device"],
    script:
        "../scripts/predict.py"
