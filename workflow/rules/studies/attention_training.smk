# Attention training (docs/studies.md): classifiers trained with a segmentation-driven Grad-CAM attention
# term at several λ (core rules: train_segmenter, segment_regions, train_classifier), the λ table; and the
# shortcut demonstration: training images carry a class-coloured marker outside the object, a
# cross-entropy and an attention model learn them (per seed of shortcut.seeds) and are tested with the marker
# as in training, absent, and shuffled to another class. Targets: attention_training; on the default data:
# demo_shortcut.
from camsweep.studies.attention_training import (
    SHORTCUT_MARKERS,
    SHORTCUT_TRAININGS,
    ce_weight_label,
    shortcut_seed,
    shortcut_seed_dir,
    shortcut_seed_index,
)

# The shortcut study's two trainings and its three test sets (marker as in training, none, another class's).
TRAININGS = list(SHORTCUT_TRAININGS)
MARKERS = list(SHORTCUT_MARKERS)
SHORTCUT_SPLITS = ["train", "val", *(f"test_{marker}" for marker in MARKERS)]
# Every seed index trains both models on the same data; index 0's files sit where a one-seed run keeps them,
# index k's under seed<k>/ ({seed_dir}).
SHORTCUT_EVALUATIONS = {
    f"results/shortcut/{SHORTCUT['dataset']}/{SHORTCUT['model']}/{shortcut_seed_dir(index)}{training}.parquet": {
        "dataset": SHORTCUT["dataset"],
        "model": SHORTCUT["model"],
        "training": training,
        "seed_index": index,
        "seed": shortcut_seed(config["seed"], index),
    }
    for training in TRAININGS
    for index in range(SHORTCUT["seeds"])
}


wildcard_constraints:
    training="|".join(TRAININGS),
    marker="|".join(MARKERS),
    seed_dir=r"(seed[1-9][0-9]*/)?",


# Per (model, training): models.<model> with the attention term on (shortcut.attention) or off.
SHORTCUT_MODELS = {
    (model, training): canonical(
        config["models"][model]
        | {
            "train": config["models"][model]["train"]
            | {"attention": SHORTCUT["attention"] if training == "attention" else None}
        }
    )
    for model in MODELS
    for training in TRAININGS
}
# The two trainings' predictions (seed index 0), with their keys for the classification-report table.
SHORTCUT_REPORTS = (
    {
        f"results/shortcut/{SHORTCUT['dataset']}/{SHORTCUT['model']}/{training}.parquet": {
            "study": "shortcut",
            "dataset": SHORTCUT["dataset"],
            "model": SHORTCUT["model"],
            "training": training,
        }
        for training in TRAININGS
    }
    if enabled(SHORTCUT)
    else {}
)
# The shortcut study's tables (per test set over seeds and per seed; classification report) and figure.
SHORTCUT_OUTPUTS = (
    [
        "results/tables/shortcut.csv",
        "results/tables/shortcut_seeds.csv",
        "results/tables/shortcut_classifiers.csv",
    ]
    + [
        f"results/figures/shortcut/{SHORTCUT['dataset']}/{SHORTCUT['model']}.{ext}"
        for ext in ("png", "pdf")
    ]
    if enabled(SHORTCUT)
    else []
)
STUDY_OUTPUTS["attention_training"] = [
    "results/tables/s3_lambda.csv"
] + SHORTCUT_OUTPUTS


localrules:
    attention_training,
    demo_shortcut,


rule attention_training:
    input:
        STUDY_OUTPUTS["attention_training"],


# The shortcut demonstration on the default config's shapes (outside the default target).
rule demo_shortcut:
    input:
        SHORTCUT_OUTPUTS,


# λ per classifier (1: cross-entropy only) beside accuracy, ROC-AUC, Youden's J and DP, published values beside.
rule attention_lambda_table:
    input:
        "results/tables/classifiers.csv",
    output:
        reported(
            "results/tables/s3_lambda.csv", "lambda.rst", "Study · Attention training"
        ),
    log:
        "results/logs/attention_lambda_table.log",
    benchmark:
        "results/benchmarks/attention_lambda_table.tsv"
    conda:
        STUDY_ENV
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        ce_weights={
            model: ce_weight_label(config["models"][model]) for model in LABEL_MODELS
        },
        # The published values sit beside the study's network only (like for like).
        architectures={m: config["models"][m]["architecture"] for m in LABEL_MODELS},
    script:
        "../../scripts/attention_lambda_table.py"


# The shortcut trainings' classification report: the core report script on other inputs.
rule aggregate_shortcut_classifiers:
    input:
        list(SHORTCUT_REPORTS),
    output:
        reported(
            "results/tables/shortcut_classifiers.csv",
            "shortcut_classifiers.rst",
            "Study · Attention training",
        ),
    log:
        "results/logs/aggregate_shortcut_classifiers.log",
    benchmark:
        "results/benchmarks/aggregate_shortcut_classifiers.tsv"
    conda:
        STUDY_ENV
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        input_keys=list(SHORTCUT_REPORTS.values()),
        aggregate=canonical(config["aggregate"]),
        seed=config["seed"],
    script:
        "../../scripts/aggregate_classifiers.py"


rule prepare_shortcut:
    output:
        expand("results/shortcut/{{dataset}}/data/{split}.npz", split=SHORTCUT_SPLITS),
    log:
        log_path("prepare_shortcut", "dataset"),
    benchmark:
        benchmark_path("prepare_shortcut", "dataset")
    conda:
        STUDY_ENV
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
        "../../scripts/prepare_shortcut.py"


rule train_shortcut:
    input:
        train="results/shortcut/{dataset}/data/train.npz",
        val="results/shortcut/{dataset}/data/val.npz",
        test="results/shortcut/{dataset}/data/test_correlated.npz",
    output:
        model="results/shortcut/{dataset}/{model}/{seed_dir}{training}.pt",
        history="results/shortcut/{dataset}/{model}/{seed_dir}{training}.history.csv",
        metrics="results/shortcut/{dataset}/{model}/{seed_dir}{training}.metrics.json",
    log:
        "results/logs/train_shortcut/{dataset}/{model}/{seed_dir}{training}.log",
    benchmark:
        "results/benchmarks/train_shortcut/{dataset}/{model}/{seed_dir}{training}.tsv"
    conda:
        STUDY_ENV
    threads: 4
    resources:
        **GPU_RESOURCES,
        mem_mb=6000,
        runtime=60,
    params:
        model=lambda wc: SHORTCUT_MODELS[wc.model, wc.training],
        seed=lambda wc: shortcut_seed(config["seed"], shortcut_seed_index(wc.seed_dir)),
        device=config["device"],
    script:
        "../../scripts/train_classifier.py"


rule evaluate_shortcut:
    input:
        model="results/shortcut/{dataset}/{model}/{seed_dir}{training}.pt",
        tests=expand(
            "results/shortcut/{{dataset}}/data/test_{marker}.npz", marker=MARKERS
        ),
    output:
        frame="results/shortcut/{dataset}/{model}/{seed_dir}{training}.parquet",
        maps="results/shortcut/{dataset}/{model}/{seed_dir}{training}.maps.npz",
    log:
        "results/logs/evaluate_shortcut/{dataset}/{model}/{seed_dir}{training}.log",
    benchmark:
        "results/benchmarks/evaluate_shortcut/{dataset}/{model}/{seed_dir}{training}.tsv"
    conda:
        STUDY_ENV
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
        "../../scripts/evaluate_shortcut.py"


rule aggregate_shortcut:
    input:
        list(SHORTCUT_EVALUATIONS),
    output:
        table=reported(
            "results/tables/shortcut.csv",
            "shortcut_table.rst",
            "Study · Attention training",
        ),
        seeds=reported(
            "results/tables/shortcut_seeds.csv",
            "shortcut_seeds.rst",
            "Study · Attention training",
        ),
    log:
        "results/logs/aggregate_shortcut.log",
    benchmark:
        "results/benchmarks/aggregate_shortcut.tsv"
    conda:
        STUDY_ENV
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        input_keys=list(SHORTCUT_EVALUATIONS.values()),
        aggregate=canonical(config["aggregate"]),
        seed=config["seed"],
    script:
        "../../scripts/aggregate_shortcut.py"


# Seed index 0's maps: its files sit at the one-seed paths.
rule figure_shortcut:
    input:
        table="results/tables/shortcut.csv",
        test="results/shortcut/{dataset}/data/test_shuffled.npz",
        maps=expand(
            "results/shortcut/{{dataset}}/{{model}}/{training}.maps.npz",
            training=TRAININGS,
        ),
    output:
        png=reported(
            "results/figures/shortcut/{dataset}/{model}.png",
            "shortcut.rst",
            "Study · Attention training",
        ),
        pdf="results/figures/shortcut/{dataset}/{model}.pdf",
    log:
        log_path("figure_shortcut", "dataset", "model"),
    benchmark:
        benchmark_path("figure_shortcut", "dataset", "model")
    conda:
        STUDY_ENV
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        trainings=TRAININGS,
        explain=canonical(SHORTCUT["explain"]),
        confidence=config["aggregate"]["confidence"],
    script:
        "../../scripts/figure_shortcut.py"
