# Faithfulness of each method's maps on the clean test images: average drop / increase in confidence
# (image × map), insertion and deletion AUC, and the saliency metric (the thresholded map's box,
# re-classified). Each costs model forwards, so they run on the clean condition and the configured layers.


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
        layers=lambda wc: faithfulness_layers(wc.model, wc.method),
        faithfulness=canonical(config["faithfulness"]),
        metrics=canonical(config["metrics"]),
        device=config["device"],
    script:
        "../scripts/score_faithfulness.py"


rule aggregate_faithfulness:
    input:
        faithfulness_paths(),
    output:
        table="results/tables/faithfulness.csv",
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
        aggregate=canonical(config["aggregate"]),
        seed=config["seed"],
    script:
        "../scripts/aggregate_faithfulness.py"
