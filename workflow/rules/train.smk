# Stage 2 — classifiers and U-Net segmenters trained in the DAG.
from camsweep.models.segmentation import channel_names_for

# Per (dataset, model): the attention regions a segmenter predicts for its training (train and val), if any.
ATTENTION_REGIONS = {
    (dataset, model): (
        [
            f"results/regions/{dataset}/{attention['region']}/{split}.npz"
            for split in ("train", "val")
        ]
        if attention is not None and attention["region"] != "truth"
        else []
    )
    for dataset in DATASETS
    for model in MODELS
    for attention in [config["models"][model]["train"]["attention"]]
}


rule train_classifier:
    input:
        train="results/data/{dataset}/train.npz",
        val="results/data/{dataset}/val.npz",
        test="results/data/{dataset}/test.npz",
        checkpoint=lambda wc: config["models"][wc.model]["checkpoint"] or [],
        regions=lambda wc: ATTENTION_REGIONS[wc.dataset, wc.model],
    output:
        model="results/models/{dataset}/{model}.pt",
        history="results/models/{dataset}/{model}.history.csv",
        metrics="results/models/{dataset}/{model}.metrics.json",
    log:
        log_path("train_classifier", "dataset", "model"),
    benchmark:
        benchmark_path("train_classifier", "dataset", "model")
    conda:
        ENV
    threads: 4
    resources:
        **GPU_RESOURCES,
        mem_mb=6000,
        runtime=60,
    params:
        model=lambda wc: canonical(config["models"][wc.model]),
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/train_classifier.py"


# Per segmenter: the splits of its dataset, and the output channels its config implies (checked against
# its checkpoint).
SEGMENTER_SPLITS = {
    segmenter: {
        split: f"results/data/{options['dataset']}/{split}.npz" for split in SPLITS
    }
    for segmenter, options in config["segmenters"].items()
}
SEGMENTER_CHANNELS = {
    segmenter: list(
        channel_names_for(
            options["masks"], configured_classes(config, options["dataset"]) or []
        )
    )
    for segmenter, options in config["segmenters"].items()
}
# Params of every job that loads a segmenter: its config and the channels it must have.
SEGMENTER_PARAMS = {
    "segmenter": lambda wc: canonical(config["segmenters"][wc.segmenter]),
    "channels": lambda wc: SEGMENTER_CHANNELS[wc.segmenter],
    "device": config["device"],
}


# A segmenter learns a dataset's masks; its predicted regions (infer.smk) can stand in for ground truth.
rule train_segmenter:
    input:
        unpack(lambda wc: SEGMENTER_SPLITS[wc.segmenter]),
    output:
        model="results/segmenters/{segmenter}/model.pt",
        history="results/segmenters/{segmenter}/history.csv",
        metrics="results/segmenters/{segmenter}/metrics.json",
        test_scores="results/segmenters/{segmenter}/test_scores.parquet",
        test_masks="results/segmenters/{segmenter}/test_masks.npz",
    log:
        log_path("train_segmenter", "segmenter"),
    benchmark:
        benchmark_path("train_segmenter", "segmenter")
    conda:
        ENV
    threads: 4
    resources:
        **GPU_RESOURCES,
        mem_mb=6000,
        runtime=60,
    params:
        **SEGMENTER_PARAMS,
        seed=config["seed"],
    script:
        "../scripts/train_segmenter.py"
