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


# A segmenter's predicted regions of a split: ground truth for datasets without masks (regions_from) and the
# attention regions of classifiers trained with the attention term.
rule segment_regions:
    input:
        model="results/segmenters/{segmenter}/model.pt",
        split="results/data/{dataset}/{split}.npz",
    output:
        "results/regions/{dataset}/{segmenter}/{split}.npz",
    log:
        log_path("segment_regions", "dataset", "segmenter", "split"),
    benchmark:
        benchmark_path("segment_regions", "dataset", "segmenter", "split")
    conda:
        ENV
    resources:
        **GPU_RESOURCES,
        mem_mb=4000,
        runtime=20,
    params:
        **SEGMENTER_PARAMS,
        batch_size=config["inference"]["batch_size"],
    script:
        "../scripts/segment_regions.py"
