# Stage 7 — tidy tables: per-condition means with bootstrap confidence intervals.


rule aggregate_classification:
    input:
        [
            path
            for dataset in CLASSIFIED_DATASETS
            for model in LABEL_MODELS
            for path in condition_paths(
                "results/predictions/{dataset}/{model}/{perturbation}/{severity}.parquet",
                dataset=dataset,
                model=model,
            )
        ],
    output:
        table="results/tables/classification.csv",
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
        aggregate=canonical(config["aggregate"]),
        seed=config["seed"],
    script:
        "../scripts/aggregate_classification.py"


rule aggregate_cams:
    input:
        [
            path
            for dataset in CLASSIFIED_DATASETS
            for model in MODELS
            for method in CAM_METHODS
            for path in condition_paths(
                "results/metrics/{dataset}/{model}/{method}/{perturbation}/{severity}.parquet",
                dataset=dataset,
                model=model,
                method=method,
            )
        ],
    output:
        table="results/tables/cam_metrics.csv",
        box_vs_mask="results/tables/box_vs_mask.csv",
        s4_table1="results/tables/s4_table1.csv",
        comparisons="results/tables/method_comparisons.csv",
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
        aggregate=canonical(config["aggregate"]),
        seed=config["seed"],
    script:
        "../scripts/aggregate_cams.py"


rule aggregate_wsol:
    input:
        [
            path
            for dataset in CLASSIFIED_DATASETS
            for model in MODELS
            for method in CAM_METHODS
            for path in condition_paths(
                "results/metrics/{dataset}/{model}/{method}/{perturbation}/{severity}.wsol.npz",
                dataset=dataset,
                model=model,
                method=method,
            )
        ],
    output:
        table="results/tables/wsol.csv",
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
        aggregate=canonical(config["aggregate"]),
        seed=config["seed"],
    script:
        "../scripts/aggregate_wsol.py"


rule aggregate_classifiers:
    input:
        list(classifier_reports().values()),
    output:
        "results/tables/classifiers.csv",
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
        names=list(classifier_reports()),
        aggregate=canonical(config["aggregate"]),
        seed=config["seed"],
    script:
        "../scripts/aggregate_classifiers.py"


rule aggregate_shortcut_classifiers:
    input:
        list(shortcut_reports().values()),
    output:
        "results/tables/shortcut_classifiers.csv",
    log:
        "results/logs/aggregate_shortcut_classifiers.log",
    benchmark:
        "results/benchmarks/aggregate_shortcut_classifiers.tsv"
    conda:
        ENV
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        names=list(shortcut_reports()),
        aggregate=canonical(config["aggregate"]),
        seed=config["seed"],
    script:
        "../scripts/aggregate_classifiers.py"
