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


# Classification report of the core chain's classifiers (classifiers.csv) and, apart, of the shortcut
# demonstration's two trainings (shortcut_classifiers.csv): one script, one rule each.
for table, reports in (
    ("classifiers", classifier_reports()),
    ("shortcut_classifiers", shortcut_reports()),
):

    rule:
        name:
            f"aggregate_{table}"
        input:
            list(reports.values()),
        output:
            f"results/tables/{table}.csv",
        log:
            f"results/logs/aggregate_{table}.log",
        benchmark:
            f"results/benchmarks/aggregate_{table}.tsv"
        conda:
            ENV
        resources:
            mem_mb=2000,
            runtime=20,
        params:
            names=list(reports),
            aggregate=canonical(config["aggregate"]),
            seed=config["seed"],
        script:
            "../scripts/aggregate_classifiers.py"
