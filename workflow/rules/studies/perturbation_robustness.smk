# Perturbation robustness (docs/studies.md): per-class RMSE of one method's maps to the clean map on
# correctly classified clean images, per layer, perturbation and severity, joined with ΔAUC; its figures.
# Target: perturbation_robustness.
ROBUSTNESS = config["studies"]["perturbation_robustness"]
# Per (dataset, model): RMSE vs layer, RMSE against ΔAUC by severity, and by layer.
ROBUSTNESS_MODEL_FIGURES = ["layers", "by_severity", "by_layer"]
ROBUSTNESS_SCORES = keyed_artifacts(
    "results/metrics/{dataset}/{model}/{method}/{perturbation}/{severity}.parquet",
    conditions=True,
    dataset=CLASSIFIED_DATASETS,
    model=LABEL_MODELS,
    method=[ROBUSTNESS["method"]],
)
# The clean predictions the study selects its images from.
ROBUSTNESS_SELECTIONS = keyed_artifacts(
    "results/predictions/{dataset}/{model}/none/0.parquet",
    dataset=CLASSIFIED_DATASETS,
    model=LABEL_MODELS,
)


STUDY_OUTPUTS["perturbation_robustness"] = PERTURBATION_ROBUSTNESS_OUTPUTS = (
    [
        "results/tables/s2_rmse.csv",
        "results/tables/s2_delta_auc_area.csv",
        "results/tables/classification.csv",
    ]
    + [
        path
        for dataset in CLASSIFIED_DATASETS
        for path in [
            f"results/figures/s2/{dataset}/{model}/{name}.{ext}"
            for model in LABEL_MODELS
            for name in ROBUSTNESS_MODEL_FIGURES
            for ext in ("png", "pdf")
        ]
        + [f"results/figures/s2/{dataset}/augmentation.{ext}" for ext in ("png", "pdf")]
    ]
    if CLASSIFIED_DATASETS and LABEL_MODELS
    else []
)


localrules:
    perturbation_robustness,


rule perturbation_robustness:
    input:
        PERTURBATION_ROBUSTNESS_OUTPUTS,


rule robustness_tables:
    input:
        scores=list(ROBUSTNESS_SCORES),
        predictions=list(ROBUSTNESS_SELECTIONS),
        classification="results/tables/classification.csv",
    output:
        rmse=reported(
            "results/tables/s2_rmse.csv",
            "robustness_rmse.rst",
            "Study · Perturbation robustness",
        ),
        area=reported(
            "results/tables/s2_delta_auc_area.csv",
            "robustness_area.rst",
            "Study · Perturbation robustness",
        ),
        summary="results/tables/s2_summary.csv",
        images="results/tables/s2_rmse_images.parquet",
        provenance="results/tables/s2.provenance.json",
    log:
        "results/logs/robustness_tables.log",
    benchmark:
        "results/benchmarks/robustness_tables.tsv"
    conda:
        STUDY_ENV
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        scores=list(ROBUSTNESS_SCORES.values()),
        predictions=list(ROBUSTNESS_SELECTIONS.values()),
        per_class=ROBUSTNESS["images_per_class"],
        layers={m: cam_layers(config, m, ROBUSTNESS["method"]) for m in LABEL_MODELS},
        aggregate=canonical(config["aggregate"]),
        seed=config["seed"],
    script:
        "../../scripts/robustness_tables.py"


rule figure_robustness:
    input:
        images="results/tables/s2_rmse_images.parquet",
        rmse="results/tables/s2_rmse.csv",
        split="results/data/{dataset}/test.npz",
    output:
        **{
            f"{name}_png": reported(
                f"results/figures/s2/{{dataset}}/{{model}}/{name}.png",
                "robustness_figures.rst",
                "Study · Perturbation robustness",
                "{dataset} · {model}",
            )
            for name in ROBUSTNESS_MODEL_FIGURES
        },
        **{
            f"{name}_pdf": f"results/figures/s2/{{dataset}}/{{model}}/{name}.pdf"
            for name in ROBUSTNESS_MODEL_FIGURES
        },
    log:
        log_path("figure_robustness", "dataset", "model"),
    benchmark:
        benchmark_path("figure_robustness", "dataset", "model")
    conda:
        STUDY_ENV
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        method=ROBUSTNESS["method"],
    script:
        "../../scripts/figure_robustness.py"


rule figure_robustness_augmentation:
    input:
        summary="results/tables/s2_summary.csv",
    output:
        png=reported(
            "results/figures/s2/{dataset}/augmentation.png",
            "robustness_augmentation.rst",
            "Study · Perturbation robustness",
            "{dataset}",
        ),
        pdf="results/figures/s2/{dataset}/augmentation.pdf",
    log:
        log_path("figure_robustness_augmentation", "dataset"),
    benchmark:
        benchmark_path("figure_robustness_augmentation", "dataset")
    conda:
        STUDY_ENV
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        augmented={
            model: bool(config["models"][model]["train"]["augmentation"])
            for model in LABEL_MODELS
        },
    script:
        "../../scripts/figure_robustness_augmentation.py"
