# Stage 6 — per-image scores of every map: localisation (box and mask) and stability (RMSE to clean).


rule score_cams:
    input:
        unpack(ground_truth_regions),
        **shard_plan(),
        maps=per_image_path(
            "results/cams/{dataset}/{model}/{method}/{perturbation}/{severity}.npz"
        ),
        clean_maps=per_image_path("results/cams/{dataset}/{model}/{method}/none/0.npz"),
        split="results/data/{dataset}/test.npz",
    output:
        scores=per_image_path(
            "results/metrics/{dataset}/{model}/{method}/{perturbation}/{severity}.parquet"
        ),
        wsol=per_image_path(
            "results/metrics/{dataset}/{model}/{method}/{perturbation}/{severity}.wsol.npz"
        ),
    log:
        log_path(
            "score_cams",
            "dataset",
            "model",
            "method",
            "perturbation",
            "severity",
            *SHARD_WILDCARDS,
        ),
    benchmark:
        benchmark_path(
            "score_cams",
            "dataset",
            "model",
            "method",
            "perturbation",
            "severity",
            *SHARD_WILDCARDS,
        )
    conda:
        ENV
    resources:
        mem_mb=3000,
        runtime=20,
    params:
        metrics=canonical(config["metrics"]),
    script:
        "../scripts/score_cams.py"
