# Stage 5 — class activation maps at layer resolution, one file per (method, condition), all layers.
# The gradient family shares one forward/backward pass per batch, so one job computes all its methods.


rule cam_gradient:
    input:
        model="results/models/{dataset}/{model}.pt",
        images="results/perturbed/{dataset}/{perturbation}/{severity}.npz",
        predictions="results/predictions/{dataset}/{model}/{perturbation}/{severity}.parquet",
        clean_predictions="results/predictions/{dataset}/{model}/none/0.parquet",
        split="results/data/{dataset}/test.npz",
    output:
        maps=expand(
            "results/cams/{{dataset}}/{{model}}/{method}/{{perturbation}}/{{severity}}.npz",
            method=CAM_METHODS,
        ),
    log:
        log_path("cam_gradient", "dataset", "model", "perturbation", "severity"),
    benchmark:
        benchmark_path("cam_gradient", "dataset", "model", "perturbation", "severity")
    conda:
        ENV
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        methods=CAM_METHODS,
        layers=lambda wc: config["models"][wc.model]["cam_layers"],
        target=config["cams"]["target"],
        batch_size=config["cams"]["batch_size"],
        device=config["device"],
    script:
        "../scripts/cam.py"
