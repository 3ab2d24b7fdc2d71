# Stage 8 — figures (PNG and PDF) per dataset and model, captioned for `snakemake --report`.


rule figure_training:
    input:
        "results/models/{dataset}/{model}.history.csv",
    output:
        **figure_outputs("training", "training.rst", "1 · Training"),
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
            "2 · Classification under perturbation",
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
        **figure_outputs("stability", "stability.rst", "3 · Explanation stability"),
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
    script:
        "../scripts/figure_stability.py"


rule figure_box_vs_mask:
    input:
        "results/tables/box_vs_mask.csv",
    output:
        **figure_outputs(
            "box_vs_mask", "box_vs_mask.rst", "4 · Localisation: box versus mask"
        ),
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
    script:
        "../scripts/figure_box_vs_mask.py"


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
        **figure_outputs("examples", "examples.rst", "5 · Example maps"),
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
