# Stage 2 — classifiers trained in the DAG.


rule train_classifier:
    input:
        train="results/data/{dataset}/train.npz",
        val="results/data/{dataset}/val.npz",
        test="results/data/{dataset}/test.npz",
        checkpoint=lambda wc: config["models"][wc.model]["checkpoint"] or [],
        regions=lambda wc: attention_regions(
            config["models"][wc.model]["train"]["attention"], wc.dataset
        ),
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
