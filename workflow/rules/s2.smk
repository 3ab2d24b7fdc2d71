# S2 (robustness of saliency under perturbations): per-class RMSE of the study's method on correctly
# classified clean images, joined with ΔAUC; the study's figures.
if S2["enabled"]:

    rule s2_tables:
        input:
            scores=[
                path
                for dataset in CLASSIFIED_DATASETS
                for model in LABEL_MODELS
                for path in condition_paths(
                    "results/metrics/{dataset}/{model}/{method}/{perturbation}/{severity}.parquet",
                    dataset=dataset,
                    model=model,
                    method=S2["method"],
                )
            ],
            predictions=expand(
                "results/predictions/{dataset}/{model}/none/0.parquet",
                dataset=CLASSIFIED_DATASETS,
                model=LABEL_MODELS,
            ),
            classification="results/tables/classification.csv",
        output:
            rmse="results/tables/s2_rmse.csv",
            area="results/tables/s2_delta_auc_area.csv",
            summary="results/tables/s2_summary.csv",
            images="results/tables/s2_rmse_images.parquet",
            provenance="results/tables/s2.provenance.json",
        log:
            "results/logs/s2_tables.log",
        benchmark:
            "results/benchmarks/s2_tables.tsv"
        conda:
            ENV
        resources:
            mem_mb=4000,
            runtime=30,
        params:
            per_class=S2["images_per_class"],
            layers={m: cam_layers(config, m, S2["method"]) for m in LABEL_MODELS},
            aggregate=canonical(config["aggregate"]),
            seed=config["seed"],
        script:
            "../scripts/s2_tables.py"

    rule figure_s2:
        input:
            images="results/tables/s2_rmse_images.parquet",
            rmse="results/tables/s2_rmse.csv",
            split="results/data/{dataset}/test.npz",
        output:
            **{
                f"{name}_{ext}": f"results/figures/s2/{{dataset}}/{{model}}/{name}.{ext}"
                for name in S2_MODEL_FIGURES
                for ext in ("png", "pdf")
            },
        log:
            log_path("figure_s2", "dataset", "model"),
        benchmark:
            benchmark_path("figure_s2", "dataset", "model")
        conda:
            ENV
        resources:
            mem_mb=2000,
            runtime=10,
        script:
            "../scripts/figure_s2.py"

    rule figure_s2_augmentation:
        input:
            summary="results/tables/s2_summary.csv",
        output:
            augmentation_png="results/figures/s2/{dataset}/augmentation.png",
            augmentation_pdf="results/figures/s2/{dataset}/augmentation.pdf",
        log:
            log_path("figure_s2_augmentation", "dataset"),
        benchmark:
            benchmark_path("figure_s2_augmentation", "dataset")
        conda:
            ENV
        resources:
            mem_mb=2000,
            runtime=10,
        params:
            compare=LABEL_MODELS,
            labels=s2_model_labels(),
        script:
            "../scripts/figure_s2.py"
