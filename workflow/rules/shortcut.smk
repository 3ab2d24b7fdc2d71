# Shortcut demonstration: the training images carry a class-coloured marker outside the object. A
# cross-entropy model and an attention model (S3's loss, made differentiable) are trained on them and
# tested with the marker as in training, absent, and shuffled to another class.


rule prepare_shortcut:
    output:
        expand("results/shortcut/{{dataset}}/data/{split}.npz", split=SHORTCUT_SPLITS),
    log:
        log_path("prepare_shortcut", "dataset"),
    benchmark:
        benchmark_path("prepare_shortcut", "dataset")
    conda:
        ENV
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        dataset=lambda wc: canonical(
            config["datasets"][wc.dataset] | {"synthetic": shortcut_synthetic(config)}
        ),
        marker_probability=SHORTCUT["marker_probability"],
        seed=config["seed"],
    script:
        "../scripts/prepare_shortcut.py"


rule train_shortcut:
    input:
        train="results/shortcut/{dataset}/data/train.npz",
        val="results/shortcut/{dataset}/data/val.npz",
        test="results/shortcut/{dataset}/data/test_correlated.npz",
    output:
        model="results/shortcut/{dataset}/{model}/{training}.pt",
        history="results/shortcut/{dataset}/{model}/{training}.history.csv",
        metrics="results/shortcut/{dataset}/{model}/{training}.metrics.json",
    log:
        log_path("train_shortcut", "dataset", "model", "training"),
    benchmark:
        benchmark_path("train_shortcut", "dataset", "model", "training")
    conda:
        ENV
    threads: 4
    resources:
        **GPU_RESOURCES,
        mem_mb=6000,
        runtime=60,
    params:
        model=shortcut_model,
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/train_classifier.py"


rule evaluate_shortcut:
    input:
        model="results/shortcut/{dataset}/{model}/{training}.pt",
        tests=expand(
            "results/shortcut/{{dataset}}/data/test_{marker}.npz", marker=MARKERS
        ),
    output:
        "results/shortcut/{dataset}/{model}/{training}.parquet",
    log:
        log_path("evaluate_shortcut", "dataset", "model", "training"),
    benchmark:
        benchmark_path("evaluate_shortcut", "dataset", "model", "training")
    conda:
        ENV
    resources:
        **GPU_RESOURCES,
        mem_mb=3000,
        runtime=20,
    params:
        markers=MARKERS,
        explain=canonical(SHORTCUT["explain"]),
        threshold=SHORTCUT["attention"]["threshold"],
        metrics=canonical(config["metrics"]),
        device=config["device"],
    script:
        "../scripts/evaluate_shortcut.py"


rule aggregate_shortcut:
    input:
        expand(
            "results/shortcut/{dataset}/{model}/{training}.parquet",
            dataset=SHORTCUT["dataset"],
            model=SHORTCUT["model"],
            training=TRAININGS,
        ),
    output:
        "results/tables/shortcut.csv",
    log:
        "results/logs/aggregate_shortcut.log",
    benchmark:
        "results/benchmarks/aggregate_shortcut.tsv"
    conda:
        ENV
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        aggregate=canonical(config["aggregate"]),
        seed=config["seed"],
    script:
        "../scripts/aggregate_shortcut.py"


rule figure_shortcut:
    input:
        "results/tables/shortcut.csv",
    output:
        png=report(
            "results/figures/shortcut/{dataset}/{model}.png",
            caption="../report/shortcut.rst",
            category="6 · Shortcut (S3)",
        ),
        pdf="results/figures/shortcut/{dataset}/{model}.pdf",
    log:
        log_path("figure_shortcut", "dataset", "model"),
    benchmark:
        benchmark_path("figure_shortcut", "dataset", "model")
    conda:
        ENV
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/figure_shortcut.py"
