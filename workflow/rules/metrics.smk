# Stage 6 — per-image scores of every map: localisation (box and mask) and stability (RMSE to clean).
# One job per (dataset, model, method) scores every condition, one file per condition.


rule score_cams:
    input:
        unpack(ground_truth_regions),
        **shard_plan(),
        maps=[
            per_image_path(path)
            for path in condition_paths(
                "results/cams/{{dataset}}/{{model}}/{{method}}/{perturbation}/{severity}.npz"
            )
        ],
        split="results/data/{dataset}/test.npz",
    output:
        scores=[
            per_image_path(path)
            for path in condition_paths(
                "results/metrics/{{dataset}}/{{model}}/{{method}}/{perturbation}/{severity}.parquet"
            )
        ],
        wsol=[
            per_image_path(path)
            for path in condition_paths(
                "results/metrics/{{dataset}}/{{model}}/{{method}}/{perturbation}/{severity}.wsol.npz"
            )
        ],
    log:
        log_path("score_cams", "dataset", "model", "method", *SHARD_WILDCARDS),
    benchmark:
        benchmark_path("score_cams", "dataset", "model", "method", *SHARD_WILDCARDS)
    conda:
        ENV
    resources:
        mem_mb=3000,
        runtime=60,
    params:
        conditions=CONDITIONS,
        metrics=canonical(config["metrics"]),
    script:
        "../scripts/score_cams.py"
