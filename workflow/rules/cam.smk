# Stage 5 — class activation maps at layer resolution, one file per (method, condition), all its layers.
# Methods sharing one forward (and backward) pass — the gradient family and Eigen-CAM — run in one job
# per condition; Score-CAM and Ablation-CAM, which re-run the network, get one job per method and condition.
# With shards.images set, each of these jobs runs once per shard (shards.smk merges the files).
if SHARED_METHODS:

    rule cam_shared:
        input:
            **cam_inputs(),
        output:
            maps=expand(
                per_image_path(
                    "results/cams/{{dataset}}/{{model}}/{method}/{{perturbation}}/{{severity}}.npz",
                    shard="{{shard}}",
                ),
                method=SHARED_METHODS,
            ),
        log:
            log_path(
                "cam_shared",
                "dataset",
                "model",
                "perturbation",
                "severity",
                *SHARD_WILDCARDS,
            ),
        benchmark:
            benchmark_path(
                "cam_shared",
                "dataset",
                "model",
                "perturbation",
                "severity",
                *SHARD_WILDCARDS,
            )
        conda:
            ENV
        resources:
            **GPU_RESOURCES,
            mem_mb=4000,
            runtime=30,
        params:
            **cam_params(lambda wc: SHARED_METHODS),
        script:
            "../scripts/cam.py"


if RERUN_METHODS:

    rule cam_rerun:
        input:
            **cam_inputs(),
        output:
            maps=[
                per_image_path(
                    "results/cams/{dataset}/{model}/{method}/{perturbation}/{severity}.npz"
                )
            ],
        log:
            log_path(
                "cam_rerun",
                "dataset",
                "model",
                "method",
                "perturbation",
                "severity",
                *SHARD_WILDCARDS,
            ),
        benchmark:
            benchmark_path(
                "cam_rerun",
                "dataset",
                "model",
                "method",
                "perturbation",
                "severity",
                *SHARD_WILDCARDS,
            )
        wildcard_constraints:
            method="|".join(RERUN_METHODS),
        conda:
            ENV
        resources:
            **GPU_RESOURCES,
            mem_mb=lambda wc: 2000 + int(config["cams"]["memory_budget_mb"]),
            runtime=120,
        params:
            **cam_params(lambda wc: [wc.method]),
        script:
            "../scripts/cam.py"
