# Stage 5 — class activation maps at layer resolution, one file per (method, condition), all its layers.
# Per model, one job for the clean images (rules <name>_clean) and one for every perturbed condition
# (CONDITION_BATCHES). Methods sharing one forward (and backward) pass — the gradient family and
# Eigen-CAM — run in one job; Score-CAM and Ablation-CAM, which re-run the network, get jobs of their
# own per method. With shards.images set, each of these jobs runs once per shard (shards.smk merges).
for suffix, conditions in CONDITION_BATCHES.items():
    if SHARED_METHODS:

        rule:
            name:
                f"cam_shared{suffix}"
            input:
                **cam_inputs(conditions),
            output:
                maps=cam_map_paths(SHARED_METHODS, conditions),
            log:
                log_path(f"cam_shared{suffix}", "dataset", "model", *SHARD_WILDCARDS),
            benchmark:
                benchmark_path(
                    f"cam_shared{suffix}", "dataset", "model", *SHARD_WILDCARDS
                )
            conda:
                ENV
            threads: 2
            resources:
                **GPU_RESOURCES,
                mem_mb=4000,
                runtime=120,
            params:
                **cam_params(lambda wc: SHARED_METHODS, conditions),
            script:
                "../scripts/cam.py"

    if RERUN_METHODS:

        rule:
            name:
                f"cam_rerun{suffix}"
            input:
                **cam_inputs(conditions),
            output:
                maps=cam_map_paths(["{method}"], conditions),
            log:
                log_path(
                    f"cam_rerun{suffix}",
                    "dataset",
                    "model",
                    "method",
                    *SHARD_WILDCARDS,
                ),
            benchmark:
                benchmark_path(
                    f"cam_rerun{suffix}",
                    "dataset",
                    "model",
                    "method",
                    *SHARD_WILDCARDS,
                )
            wildcard_constraints:
                method="|".join(RERUN_METHODS),
            conda:
                ENV
            threads: 2
            resources:
                **GPU_RESOURCES,
                mem_mb=lambda wc: 2000 + int(config["cams"]["memory_budget_mb"]),
                runtime=480,
            params:
                **cam_params(lambda wc: [wc.method], conditions),
            script:
                "../scripts/cam.py"
