# Shards (shards.images): the plan cuts each test split into runs of consecutive images; the per-image
# stages run once per shard and the rules below merge their files, in plan order, into the paths an
# unsharded run writes, so everything downstream is the same. The plan is a checkpoint: how many
# shards a real dataset has is known only once its test split is prepared.
if SHARDED:

    checkpoint plan_shards:
        input:
            "results/data/{dataset}/test.npz",
        output:
            "results/shards/plans/{dataset}.json",
        log:
            log_path("plan_shards", "dataset"),
        conda:
            ENV
        resources:
            mem_mb=1000,
            runtime=5,
        params:
            images=SHARD_IMAGES,
        script:
            "../scripts/plan_shards.py"

    rule merge_cam_shards:
        input:
            maps=shard_files(
                "results/cams/{dataset}/{model}/{method}/{perturbation}/{severity}.npz"
            ),
        output:
            maps="results/cams/{dataset}/{model}/{method}/{perturbation}/{severity}.npz",
        log:
            log_path(
                "merge_cam_shards",
                "dataset",
                "model",
                "method",
                "perturbation",
                "severity",
            ),
        conda:
            ENV
        resources:
            mem_mb=2000,
            runtime=10,
        script:
            "../scripts/merge_shards.py"

    rule merge_score_shards:
        input:
            scores=shard_files(
                "results/metrics/{dataset}/{model}/{method}/{perturbation}/{severity}.parquet"
            ),
            wsol=shard_files(
                "results/metrics/{dataset}/{model}/{method}/{perturbation}/{severity}.wsol.npz"
            ),
        output:
            scores="results/metrics/{dataset}/{model}/{method}/{perturbation}/{severity}.parquet",
            wsol="results/metrics/{dataset}/{model}/{method}/{perturbation}/{severity}.wsol.npz",
        log:
            log_path(
                "merge_score_shards",
                "dataset",
                "model",
                "method",
                "perturbation",
                "severity",
            ),
        conda:
            ENV
        resources:
            mem_mb=2000,
            runtime=10,
        script:
            "../scripts/merge_shards.py"

    rule merge_faithfulness_shards:
        input:
            scores=shard_files(
                "results/faithfulness/{dataset}/{model}/{method}.parquet"
            ),
        output:
            scores="results/faithfulness/{dataset}/{model}/{method}.parquet",
        log:
            log_path("merge_faithfulness_shards", "dataset", "model", "method"),
        conda:
            ENV
        resources:
            mem_mb=1000,
            runtime=5,
        script:
            "../scripts/merge_shards.py"

    rule merge_sanity_shards:
        input:
            scores=shard_files("results/sanity/{dataset}/{model}/{method}.parquet"),
            maps=shard_files("results/sanity/{dataset}/{model}/{method}.randomised.npz"),
        output:
            scores="results/sanity/{dataset}/{model}/{method}.parquet",
            maps="results/sanity/{dataset}/{model}/{method}.randomised.npz",
        log:
            log_path("merge_sanity_shards", "dataset", "model", "method"),
        conda:
            ENV
        resources:
            mem_mb=2000,
            runtime=5,
        script:
            "../scripts/merge_shards.py"
