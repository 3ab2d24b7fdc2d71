# Faithfulness of each method's maps on the clean test images: average drop / increase in confidence
# (image × map), insertion and deletion AUC, the saliency metric (the thresholded map's box,
# re-classified) and ROAD (MoRF / LeRF with noisy linear imputation). Each costs model forwards, so they
# run on the clean condition and the configured layers.


# Per (model, method): the configured faithfulness layers the method has maps for.
FAITHFULNESS_LAYERS = {
    (model, method): [
        layer
        for layer in config["faithfulness"]["layers"]
        if layer in cam_layers(config, model, method)
    ]
    for model in MODELS
    for method in CAM_METHODS
}
# The scores of every (dataset, model, method) with maps at a faithfulness layer, with their keys.
FAITHFULNESS_SCORES = {
    path: keys
    for path, keys in keyed_artifacts(
        "results/faithfulness/{dataset}/{model}/{method}.parquet",
        dataset=CLASSIFIED_DATASETS,
        model=MODELS,
        method=CAM_METHODS,
    ).items()
    if FAITHFULNESS_LAYERS[keys["model"], keys["method"]]
}


rule score_faithfulness:
    input:
        **shard_plan(),
        model="results/models/{dataset}/{model}.pt",
        images="results/perturbed/{dataset}/none/0.npz",
        maps=per_image_path("results/cams/{dataset}/{model}/{method}/none/0.npz"),
        split="results/data/{dataset}/test.npz",
    output:
        per_image_path("results/faithfulness/{dataset}/{model}/{method}.parquet"),
    log:
        log_path("score_faithfulness", "dataset", "model", "method", *SHARD_WILDCARDS),
    benchmark:
        benchmark_path(
            "score_faithfulness", "dataset", "model", "method", *SHARD_WILDCARDS
        )
    conda:
        ENV
    resources:
        **GPU_RESOURCES,
        mem_mb=4000,
        runtime=60,
    params:
        layers=lambda wc: FAITHFULNESS_LAYERS[wc.model, wc.method],
        faithfulness=canonical(config["faithfulness"]),
        metrics=canonical(config["metrics"]),
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/score_faithfulness.py"


rule aggregate_faithfulness:
    input:
        list(FAITHFULNESS_SCORES),
    output:
        table=reported(
            "results/tables/faithfulness.csv",
            "faithfulness.rst",
            "Core · 5 Faithfulness and sanity",
        ),
    log:
        "results/logs/aggregate_faithfulness.log",
    benchmark:
        "results/benchmarks/aggregate_faithfulness.tsv"
    conda:
        ENV
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        input_keys=list(FAITHFULNESS_SCORES.values()),
        aggregate=canonical(config["aggregate"]),
        seed=config["seed"],
    script:
        "../scripts/aggregate_faithfulness.py"
