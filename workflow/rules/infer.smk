# Stage 4 — class probabilities, one file per condition: per (dataset, model), one job for the clean
# images (`predict_clean`) and one for every perturbed condition (`predict`).
for suffix, conditions in CONDITION_BATCHES.items():

    rule:
        name:
            f"predict{suffix}"
        input:
            model="results/models/{dataset}/{model}.pt",
            images=condition_paths(
                "results/perturbed/{{dataset}}/{perturbation}/{severity}.npz",
                conditions,
            ),
            split="results/data/{dataset}/test.npz",
        output:
            condition_paths(
                "results/predictions/{{dataset}}/{{model}}/{perturbation}/{severity}.parquet",
                conditions,
            ),
        log:
            log_path(f"predict{suffix}", "dataset", "model"),
        benchmark:
            benchmark_path(f"predict{suffix}", "dataset", "model")
        conda:
            ENV
        threads: 2
        resources:
            **GPU_RESOURCES,
            mem_mb=3000,
            runtime=60,
        params:
            conditions=conditions,
            batch_size=config["inference"]["batch_size"],
            device=config["device"],
        script:
            "../scripts/predict.py"
