# Stage 7 — tidy tables: per-condition means with bootstrap confidence intervals.


# Per model: ce or attention (the loss it was trained with), or pretrained (used as loaded, no training).
TRAINING_KINDS = {
    model: (
        "pretrained"
        if not trains(options)
        else "ce" if options["train"]["attention"] is None else "attention"
    )
    for model, options in config["models"].items()
}
# Each classifier's predictions on its own clean test images, with its keys for the report table.
CLASSIFIER_REPORTS = {
    f"results/predictions/{dataset}/{model}/none/0.parquet": {
        "study": "main",
        "dataset": dataset,
        "model": model,
        "training": TRAINING_KINDS[model],
    }
    for dataset in CLASSIFIED_DATASETS
    for model in LABEL_MODELS
}
# The core chain's tables: classification, CAM scores, localisation, faithfulness, sanity.
CORE_TABLES = (
    (["results/tables/classifiers.csv"] if CLASSIFIER_REPORTS else [])
    + (
        ["results/tables/classification.csv"]
        if CLASSIFIED_DATASETS and LABEL_MODELS
        else []
    )
    + (
        [
            "results/tables/cam_metrics.csv",
            "results/tables/box_vs_mask.csv",
            "results/tables/method_comparisons.csv",
            "results/tables/sanity.csv",
            "results/tables/cascading_randomisation.csv",
            "results/tables/metric_reliability.csv",
            "results/tables/wsol.csv",
        ]
        if CLASSIFIED_DATASETS and MODELS
        else []
    )
    + (["results/tables/faithfulness.csv"] if FAITHFULNESS_SCORES else [])
)


# Every artifact an aggregator reads, with its keys (params.input_keys, in input order).
CLASSIFICATIONS = keyed_artifacts(
    "results/predictions/{dataset}/{model}/{perturbation}/{severity}.parquet",
    conditions=True,
    dataset=CLASSIFIED_DATASETS,
    model=LABEL_MODELS,
)
CAM_SCORES = keyed_artifacts(
    "results/metrics/{dataset}/{model}/{method}/{perturbation}/{severity}.parquet",
    conditions=True,
    dataset=CLASSIFIED_DATASETS,
    model=MODELS,
    method=CAM_METHODS,
)
WSOL_EVIDENCE = keyed_artifacts(
    "results/metrics/{dataset}/{model}/{method}/{perturbation}/{severity}.wsol.npz",
    conditions=True,
    dataset=CLASSIFIED_DATASETS,
    model=MODELS,
    method=CAM_METHODS,
)


rule aggregate_classification:
    input:
        list(CLASSIFICATIONS),
    output:
        table=reported(
            "results/tables/classification.csv",
            "classification_table.rst",
            "Core · 2 Classification under perturbation",
        ),
        provenance="results/tables/classification.provenance.json",
    log:
        "results/logs/aggregate_classification.log",
    benchmark:
        "results/benchmarks/aggregate_classification.tsv"
    conda:
        ENV
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        input_keys=list(CLASSIFICATIONS.values()),
        aggregate=canonical(config["aggregate"]),
        seed=config["seed"],
    script:
        "../scripts/aggregate_classification.py"


rule aggregate_cams:
    input:
        list(CAM_SCORES),
    output:
        table=reported(
            "results/tables/cam_metrics.csv",
            "cam_metrics.rst",
            "Core · 3 Localisation",
        ),
        box_vs_mask=reported(
            "results/tables/box_vs_mask.csv",
            "box_vs_mask_table.rst",
            "Core · 3 Localisation",
        ),
        comparisons=reported(
            "results/tables/method_comparisons.csv",
            "method_comparisons.rst",
            "Core · 3 Localisation",
        ),
        provenance="results/tables/cam_metrics.provenance.json",
    log:
        "results/logs/aggregate_cams.log",
    benchmark:
        "results/benchmarks/aggregate_cams.tsv"
    conda:
        ENV
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        input_keys=list(CAM_SCORES.values()),
        aggregate=canonical(config["aggregate"]),
        baselines=BASELINE_METHODS,
        seed=config["seed"],
    script:
        "../scripts/aggregate_cams.py"


rule aggregate_wsol:
    input:
        list(WSOL_EVIDENCE),
    output:
        table=reported("results/tables/wsol.csv", "wsol.rst", "Core · 3 Localisation"),
    log:
        "results/logs/aggregate_wsol.log",
    benchmark:
        "results/benchmarks/aggregate_wsol.tsv"
    conda:
        ENV
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        input_keys=list(WSOL_EVIDENCE.values()),
        aggregate=canonical(config["aggregate"]),
        seed=config["seed"],
    script:
        "../scripts/aggregate_wsol.py"


# Classification report of the core chain's classifiers (the attention-training wing reuses this rule for
# its shortcut trainings).
rule aggregate_classifiers:
    input:
        list(CLASSIFIER_REPORTS),
    output:
        reported(
            "results/tables/classifiers.csv", "classifiers.rst", "Core · 1 Training"
        ),
    log:
        "results/logs/aggregate_classifiers.log",
    benchmark:
        "results/benchmarks/aggregate_classifiers.tsv"
    conda:
        ENV
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        input_keys=list(CLASSIFIER_REPORTS.values()),
        aggregate=canonical(config["aggregate"]),
        seed=config["seed"],
    script:
        "../scripts/aggregate_classifiers.py"
