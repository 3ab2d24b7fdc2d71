# Stage 5 — class activation maps at layer resolution, one file per (method, condition), all its layers.
# Per model, one job for the clean images (rules <name>_clean) and one for every perturbed condition
# (CONDITION_BATCHES). Methods sharing one forward (and backward) pass — the gradient family and
# Eigen-CAM — run in one job; Score-CAM and Ablation-CAM, which re-run the network, get jobs of their
# own per method. With shards.images set, each of these jobs runs once per shard (shards.smk merges).

# CAM jobs: methods sharing one pass (camsweep.cams registry) run together; re-running methods get a job each.
SHARED_METHODS = [m for m in CAM_METHODS if m in SHARED_PASS_METHODS]
RERUN_METHODS = [m for m in CAM_METHODS if m not in SHARED_PASS_METHODS]
# The config's camsweep.cams.CamSettings fields (segmenters; a classifier's add its cam_layouts).
CAM_SETTINGS = cam_settings(config)
CAM_PARAMS = {
    "target": config["cams"]["target"],
    "settings": lambda wc: cam_settings(config, wc.model),
    "device": config["device"],
}


for suffix, conditions in CONDITION_BATCHES.items():
    # A CAM job's inputs: the model, and the images and predictions of its conditions (in order); its maps
    # are one file per (condition, method), conditions outermost.
    cam_inputs = {
        "model": "results/models/{dataset}/{model}.pt",
        "images": condition_paths(
            "results/perturbed/{{dataset}}/{perturbation}/{severity}.npz", conditions
        ),
        "predictions": condition_paths(
            "results/predictions/{{dataset}}/{{model}}/{perturbation}/{severity}.parquet",
            conditions,
        ),
        "clean_predictions": "results/predictions/{dataset}/{model}/none/0.parquet",
        "split": "results/data/{dataset}/test.npz",
        **shard_plan(),
    }
    maps_pattern = (
        "results/cams/{{dataset}}/{{model}}/{method}/{perturbation}/{severity}.npz"
    )

    if SHARED_METHODS:

        rule:
            name:
                f"cam_shared{suffix}"
            input:
                **cam_inputs,
            output:
                maps=[
                    per_image_path(
                        maps_pattern.format(method=m, perturbation=p, severity=v)
                    )
                    for p, v in conditions
                    for m in SHARED_METHODS
                ],
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
                **CAM_PARAMS,
                conditions=conditions,
                methods=SHARED_METHODS,
                layers=lambda wc: {
                    m: cam_layers(config, wc.model, m) for m in SHARED_METHODS
                },
            script:
                "../scripts/cam.py"

    if RERUN_METHODS:

        rule:
            name:
                f"cam_rerun{suffix}"
            input:
                **cam_inputs,
            output:
                maps=[
                    per_image_path(
                        maps_pattern.format(
                            method="{method}", perturbation=p, severity=v
                        )
                    )
                    for p, v in conditions
                ],
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
                **CAM_PARAMS,
                conditions=conditions,
                methods=lambda wc: [wc.method],
                layers=lambda wc: {wc.method: cam_layers(config, wc.model, wc.method)},
            script:
                "../scripts/cam.py"


SEGMENTER_METHODS = sorted(
    {m for s in SEGMENTERS for m in config["segmenters"][s]["cams"]["methods"]}
)


# A segmenter's maps for a class region (Ablation-CAM re-runs only the decoder), on its dataset's test split.
rule segmentation_cam:
    input:
        model="results/segmenters/{segmenter}/model.pt",
        split=lambda wc: SEGMENTER_SPLITS[wc.segmenter]["test"],
    output:
        "results/segmenters/{segmenter}/cams/{method}.npz",
    log:
        log_path("segmentation_cam", "segmenter", "method"),
    benchmark:
        benchmark_path("segmentation_cam", "segmenter", "method")
    wildcard_constraints:
        method="|".join(m.replace("+", r"\+") for m in SEGMENTER_METHODS) or "^$",
    conda:
        ENV
    threads: 2
    resources:
        **GPU_RESOURCES,
        mem_mb=lambda wc: 2000 + int(config["cams"]["memory_budget_mb"]),
        runtime=60,
    params:
        **SEGMENTER_PARAMS,
        settings=CAM_SETTINGS,
    script:
        "../scripts/segmentation_cam.py"
