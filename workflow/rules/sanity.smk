# Model-randomisation test (Adebayo et al. 2018): maps of the trained model vs copies whose blocks are
# re-initialised from the top down (cascading) or one at a time (independent), on the clean test images,
# per CAM method; the step-0 randomised maps are kept as a maps file.


rule sanity_check:
    input:
        **shard_plan(),
        model="results/models/{dataset}/{model}.pt",
        images="results/perturbed/{dataset}/none/0.npz",
        maps=per_image_path("results/cams/{dataset}/{model}/{method}/none/0.npz"),
        split="results/data/{dataset}/test.npz",
    output:
        scores=per_image_path("results/sanity/{dataset}/{model}/{method}.parquet"),
        maps=per_image_path("results/sanity/{dataset}/{model}/{method}.randomised.npz"),
    log:
        log_path("sanity_check", "dataset", "model", "method", *SHARD_WILDCARDS),
    benchmark:
        benchmark_path("sanity_check", "dataset", "model", "method", *SHARD_WILDCARDS)
    conda:
        ENV
    resources:
        **GPU_RESOURCES,
        mem_mb=4000,
        runtime=60,
    params:
        layers=lambda wc: cam_layers(config, wc.model, wc.method),
        # Not the threshold: the job does not depend on it.
        sanity=lambda wc: canonical(
            {
                "randomise_from": randomise_from(config, wc.model),
                "blocks": sanity_blocks(config, wc.model),
            }
        ),
        settings=lambda wc: cam_settings(config, wc.model),
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/sanity_check.py"


SANITY_SCORES = keyed_artifacts(
    "results/sanity/{dataset}/{model}/{method}.parquet",
    dataset=CLASSIFIED_DATASETS,
    model=MODELS,
    method=CAM_METHODS,
)


rule aggregate_sanity:
    input:
        list(SANITY_SCORES),
    output:
        table=reported(
            "results/tables/sanity.csv",
            "sanity.rst",
            "Core · 5 Faithfulness and sanity",
        ),
        cascade=reported(
            "results/tables/cascading_randomisation.csv",
            "cascading_randomisation_table.rst",
            "Core · 5 Faithfulness and sanity",
        ),
    log:
        "results/logs/aggregate_sanity.log",
    benchmark:
        "results/benchmarks/aggregate_sanity.tsv"
    conda:
        ENV
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        input_keys=list(SANITY_SCORES.values()),
        aggregate=canonical(config["aggregate"]),
        threshold=config["sanity"]["threshold"],
        seed=config["seed"],
    script:
        "../scripts/aggregate_sanity.py"
