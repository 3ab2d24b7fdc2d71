# How far each metric can be trusted (camsweep.reliability): the randomised model's maps (the sanity
# check's first step) are scored like the trained model's, then every per-image metric is read for how
# well it separates trained from randomised maps and from the baselines, box from mask, clean from perturbed.

# Baselines do not depend on the model: their randomised maps equal the trained ones.
RANDOMISED_METHODS = [m for m in CAM_METHODS if m not in BASELINE_METHODS]
RANDOMISED_SCORES = keyed_artifacts(
    "results/sanity/{dataset}/{model}/{method}.randomised.parquet",
    dataset=CLASSIFIED_DATASETS,
    model=MODELS,
    method=RANDOMISED_METHODS,
)


rule score_randomised:
    input:
        unpack(lambda wc: GROUND_TRUTH_REGIONS[wc.dataset]),
        **shard_plan(),
        model="results/models/{dataset}/{model}.pt",
        images="results/perturbed/{dataset}/none/0.npz",
        randomised=per_image_path(
            "results/sanity/{dataset}/{model}/{method}.randomised.npz"
        ),
        trained=per_image_path("results/cams/{dataset}/{model}/{method}/none/0.npz"),
        split="results/data/{dataset}/test.npz",
    output:
        per_image_path("results/sanity/{dataset}/{model}/{method}.randomised.parquet"),
    log:
        log_path("score_randomised", "dataset", "model", "method", *SHARD_WILDCARDS),
    benchmark:
        benchmark_path(
            "score_randomised", "dataset", "model", "method", *SHARD_WILDCARDS
        )
    conda:
        ENV
    resources:
        **GPU_RESOURCES,
        mem_mb=4000,
        runtime=60,
    params:
        metrics=canonical(config["metrics"]),
        faithfulness=canonical(config["faithfulness"]),
        faithfulness_layers=lambda wc: FAITHFULNESS_LAYERS[wc.model, wc.method],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/score_randomised.py"


if SHARDED:

    rule merge_randomised_score_shards:
        input:
            scores=shard_files(
                "results/sanity/{dataset}/{model}/{method}.randomised.parquet"
            ),
        output:
            scores="results/sanity/{dataset}/{model}/{method}.randomised.parquet",
        log:
            log_path("merge_randomised_score_shards", "dataset", "model", "method"),
        conda:
            ENV
        resources:
            mem_mb=2000,
            runtime=10,
        script:
            "../scripts/merge_shards.py"


rule metric_reliability:
    input:
        scores=list(CAM_SCORES),
        faithfulness=list(FAITHFULNESS_SCORES),
        randomised=list(RANDOMISED_SCORES),
    output:
        table=reported(
            "results/tables/metric_reliability.csv",
            "metric_reliability.rst",
            "Core · 5 Faithfulness and sanity",
        ),
    log:
        "results/logs/metric_reliability.log",
    benchmark:
        "results/benchmarks/metric_reliability.tsv"
    conda:
        ENV
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        score_keys=list(CAM_SCORES.values()),
        faithfulness_keys=list(FAITHFULNESS_SCORES.values()),
        randomised_keys=list(RANDOMISED_SCORES.values()),
        baselines=BASELINE_METHODS,
        aggregate=canonical(config["aggregate"]),
        seed=config["seed"],
    script:
        "../scripts/metric_reliability.py"


rule figure_metric_reliability:
    input:
        "results/tables/metric_reliability.csv",
    output:
        **figure_outputs(
            "metric_reliability",
            "metric_reliability_figure.rst",
            "Core · 5 Faithfulness and sanity",
        ),
    log:
        log_path("figure_metric_reliability", "dataset", "model"),
    benchmark:
        benchmark_path("figure_metric_reliability", "dataset", "model")
    conda:
        ENV
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        layer=lambda wc: example_layer(config, wc.model),
        baselines=BASELINE_METHODS,
    script:
        "../scripts/figure_metric_reliability.py"
