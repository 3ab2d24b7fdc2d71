# Stage 5 — class activation maps at layer resolution, one file per (method, condition), all its layers.
# Methods sharing one forward (and backward) pass — the gradient family and Eigen-CAM — run in one job
# per condition; Score-CAM and Ablation-CAM, which re-run the network, get one job per method and condition.
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
