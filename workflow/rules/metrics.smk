# Stage 6 — per-image scores of every map: localisation (box and mask) and stability (RMSE to clean).
# One job per (dataset, model, method) scores every condition, one file per condition.


# Per dataset: the predicted-region input of the score stage when the dataset takes its regions from a
# segmenter (none otherwise).
GROUND_TRUTH_REGIONS = {
    dataset: (
        {"regions": f"results/regions/{dataset}/{options['regions_from']}/test.npz"}
        if options["regions_from"] is not None
        else {}
    )
    for dataset, options in config["datasets"].items()
}


rule score_cams:
    input:
        unpack(lambda wc: GROUND_TRUTH_REGIONS[wc.dataset]),
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


# A segmenter's maps scored like classifier maps (against its test masks).
rule score_segmentation_cam:
    input:
        maps="results/segmenters/{segmenter}/cams/{method}.npz",
        split=lambda wc: SEGMENTER_SPLITS[wc.segmenter]["test"],
    output:
        "results/segmenters/{segmenter}/scores/{method}.parquet",
    log:
        log_path("score_segmentation_cam", "segmenter", "method"),
    benchmark:
        benchmark_path("score_segmentation_cam", "segmenter", "method")
    wildcard_constraints:
        method="|".join(m.replace("+", r"\+") for m in SEGMENTER_METHODS) or "^$",
    conda:
        ENV
    resources:
        mem_mb=3000,
        runtime=20,
    params:
        metrics=canonical(config["metrics"]),
    script:
        "../scripts/score_segmentation_cam.py"
