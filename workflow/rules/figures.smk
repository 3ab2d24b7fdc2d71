# Stage 8 — figures (PNG and PDF) per dataset and model, captioned for `snakemake --report`.

FIGURES = [
    "training",
    "classification",
    "stability",
    "box_vs_mask",
    "examples",
    "metric_reliability",
    "cascading_randomisation",
]


# Per (dataset, model), the figures that apply: no training curve without training, no classification
# figure for an ImageNet head, no box-vs-mask figure without masks.
MODEL_FIGURES = {
    (dataset, model): [
        figure
        for figure in FIGURES
        if not (figure == "training" and model not in TRAINED_MODELS)
        and not (figure == "classification" and model not in LABEL_MODELS)
        and not (figure == "box_vs_mask" and dataset in MASKLESS_DATASETS)
    ]
    for dataset in CLASSIFIED_DATASETS
    for model in MODELS
}
CORE_FIGURES = [
    f"results/figures/{dataset}/{model}/{figure}.{ext}"
    for (dataset, model), figures in MODEL_FIGURES.items()
    for figure in figures
    for ext in ("png", "pdf")
]


rule figure_training:
    input:
        "results/models/{dataset}/{model}.history.csv",
    output:
        **figure_outputs("training", "training.rst", "Core · 1 Training"),
    log:
        log_path("figure_training", "dataset", "model"),
    benchmark:
        benchmark_path("figure_training", "dataset", "model")
    conda:
        ENV
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/figure_training.py"


rule figure_classification:
    input:
        "results/tables/classification.csv",
    output:
        **figure_outputs(
            "classification",
            "classification.rst",
            "Core · 2 Classification under perturbation",
        ),
    log:
        log_path("figure_classification", "dataset", "model"),
    benchmark:
        benchmark_path("figure_classification", "dataset", "model")
    conda:
        ENV
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/figure_classification.py"


rule figure_stability:
    input:
        "results/tables/cam_metrics.csv",
    output:
        **figure_outputs("stability", "stability.rst", "Core · 4 Explanation stability"),
    log:
        log_path("figure_stability", "dataset", "model"),
    benchmark:
        benchmark_path("figure_stability", "dataset", "model")
    conda:
        ENV
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        layers=lambda wc: config["models"][wc.model]["cam_layers"],
        baselines=BASELINE_METHODS,
    script:
        "../scripts/figure_stability.py"


rule figure_box_vs_mask:
    input:
        "results/tables/box_vs_mask.csv",
    output:
        **figure_outputs("box_vs_mask", "box_vs_mask.rst", "Core · 3 Localisation"),
    log:
        log_path("figure_box_vs_mask", "dataset", "model"),
    benchmark:
        benchmark_path("figure_box_vs_mask", "dataset", "model")
    conda:
        ENV
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        layers=lambda wc: config["models"][wc.model]["cam_layers"],
        baselines=BASELINE_METHODS,
    script:
        "../scripts/figure_box_vs_mask.py"


rule figure_cascading_randomisation:
    input:
        "results/tables/cascading_randomisation.csv",
    output:
        **figure_outputs(
            "cascading_randomisation",
            "cascading_randomisation.rst",
            "Core · 5 Faithfulness and sanity",
        ),
    log:
        log_path("figure_cascading_randomisation", "dataset", "model"),
    benchmark:
        benchmark_path("figure_cascading_randomisation", "dataset", "model")
    conda:
        ENV
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        layers=lambda wc: config["models"][wc.model]["cam_layers"],
        threshold=config["sanity"]["threshold"],
        baselines=BASELINE_METHODS,
    script:
        "../scripts/figure_cascading_randomisation.py"


rule figure_examples:
    input:
        split="results/data/{dataset}/test.npz",
        images=condition_paths(
            "results/perturbed/{{dataset}}/{perturbation}/{severity}.npz"
        ),
        maps=condition_paths(
            "results/cams/{{dataset}}/{{model}}/{method}/{perturbation}/{severity}.npz",
            method=config["figures"]["example_method"],
        ),
    output:
        **figure_outputs("examples", "examples.rst", "Core · 6 Example maps"),
    log:
        log_path("figure_examples", "dataset", "model"),
    benchmark:
        benchmark_path("figure_examples", "dataset", "model")
    conda:
        ENV
    resources:
        mem_mb=2000,
        runtime=5,
    params:
        conditions=CONDITIONS,
        method=config["figures"]["example_method"],
        layer=lambda wc: example_layer(config, wc.model),
        index=config["figures"]["example_image"],
    script:
        "../scripts/figure_examples.py"
