# Stage 5 — class activation maps at layer resolution, one file per (method, condition), all its layers.
# Methods sharing one forward (and backward) pass — the gradient family and Eigen-CAM — run in one job
# per condition; Score-CAM and Ablation-CAM, which re-run the network, get one job per method and condition.
from camsweep.cams import SHARED_PASS_METHODS
from camsweep.config import cam_layers

SHARED_METHODS = [m for m in CAM_METHODS if m in SHARED_PASS_METHODS]
RERUN_METHODS = [m for m in CAM_METHODS if m not in SHARED_PASS_METHODS]
# Keys of config["cams"] that are camsweep.cams.CamSettings fields.
CAM_SETTINGS = ("batch_size", "memory_budget_mb", "scorecam_top_k")


def cam_inputs():
    return {
        "model": "results/models/{dataset}/{model}.pt",
        "images": "results/perturbed/{dataset}/{perturbation}/{severity}.npz",
        "predictions": "results/predictions/{dataset}/{model}/{perturbation}/{severity}.parquet",
        "clean_predictions": "results/predictions/{dataset}/{model}/none/0.parquet",
        "split": "results/data/{dataset}/test.npz",
    }


def cam_params(methods):
    """Params shared by both CAM rules; `methods(wildcards)` lists the job's methods."""
    return {
        "methods": methods,
        "layers": lambda wc: {m: cam_layers(config, wc.model, m) for m in methods(wc)},
        "target": config["cams"]["target"],
        "settings": canonical(
            {k: v for k, v in config["cams"].items() if k in CAM_SETTINGS}
        ),
        "device": config["device"],
    }


if SHARED_METHODS:

    rule cam_shared:
        input:
            **cam_inputs(),
        output:
            maps=expand(
                "results/cams/{{dataset}}/{{model}}/{method}/{{perturbation}}/{{severity}}.npz",
                method=SHARED_METHODS,
            ),
        log:
            log_path("cam_shared", "dataset", "model", "perturbation", "severity"),
        benchmark:
            benchmark_path("cam_shared", "dataset", "model", "perturbation", "severity")
        conda:
            ENV
        resources:
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
                "results/cams/{dataset}/{model}/{method}/{perturbation}/{severity}.npz"
            ],
        log:
            log_path(
                "cam_rerun", "dataset", "model", "method", "perturbation", "severity"
            ),
        benchmark:
            benchmark_path(
                "cam_rerun", "dataset", "model", "method", "perturbation", "severity"
            )
        wildcard_constraints:
            method="|".join(RERUN_METHODS),
        conda:
            ENV
        resources:
            mem_mb=lambda wc: 2000 + int(config["cams"]["memory_budget_mb"]),
            runtime=120,
        params:
            **cam_params(lambda wc: [wc.method]),
        script:
            "../scripts/cam.py"
