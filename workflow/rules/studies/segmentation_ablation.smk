# Segmentation ablation (docs/studies.md): Ablation-CAM, Grad-CAM and Score-CAM of a U-Net at every encoder
# layer, scored against the test masks (core rules: train_segmenter, segmentation_cam,
# score_segmentation_cam), the maps figure and the occlusion study. Target: segmentation_ablation;
# on the default data: demo_segmentation.
SEGMENTER_TEST_SCORES = keyed_artifacts(
    "results/segmenters/{segmenter}/test_scores.parquet", segmenter=SEGMENTERS
)
SEGMENTER_CAM_SCORES = {
    f"results/segmenters/{segmenter}/scores/{method}.parquet": {
        "segmenter": segmenter,
        "method": method,
    }
    for segmenter in SEGMENTERS
    for method in config["segmenters"][segmenter]["cams"]["methods"]
}
SEGMENTER_OCCLUSION = keyed_artifacts(
    "results/segmenters/{segmenter}/occlusion.parquet", segmenter=SEGMENTERS
)


# Every segmenter's test scores, maps and occlusion study (tables and figures).
STUDY_OUTPUTS["segmentation_ablation"] = SEGMENTATION_ABLATION_OUTPUTS = (
    [
        "results/tables/segmenters.csv",
        "results/tables/s1_segmentation_cams.csv",
        "results/tables/s1_occlusion.csv",
    ]
    + [
        f"results/figures/s1/{segmenter}/{name}.{ext}"
        for segmenter in SEGMENTERS
        for name in [
            "occlusion",
            *config["segmenters"][segmenter]["cams"]["methods"],
        ]
        for ext in ("png", "pdf")
    ]
    if SEGMENTERS
    else []
)


localrules:
    segmentation_ablation,
    demo_segmentation,


rule segmentation_ablation:
    input:
        SEGMENTATION_ABLATION_OUTPUTS,


# The same on the default config's shapes (outside the default target: minutes of U-Net training).
rule demo_segmentation:
    input:
        SEGMENTATION_ABLATION_OUTPUTS,


rule occlusion:
    input:
        model="results/segmenters/{segmenter}/model.pt",
        split=lambda wc: SEGMENTER_SPLITS[wc.segmenter]["test"],
    output:
        "results/segmenters/{segmenter}/occlusion.parquet",
    log:
        log_path("occlusion", "segmenter"),
    benchmark:
        benchmark_path("occlusion", "segmenter")
    conda:
        STUDY_ENV
    threads: 2
    resources:
        **GPU_RESOURCES,
        mem_mb=lambda wc: 2000 + int(config["cams"]["memory_budget_mb"]),
        runtime=60,
    params:
        **SEGMENTER_PARAMS,
        settings=CAM_SETTINGS,
        seed=config["seed"],
        stability_scale=config["metrics"]["stability_scale"],
    script:
        "../../scripts/occlusion.py"


rule aggregate_segmentation:
    input:
        test_scores=list(SEGMENTER_TEST_SCORES),
        cam_scores=list(SEGMENTER_CAM_SCORES),
        occlusion=list(SEGMENTER_OCCLUSION),
    output:
        segmenters=reported(
            "results/tables/segmenters.csv",
            "segmenters.rst",
            "Study · Segmentation ablation",
        ),
        cams=reported(
            "results/tables/s1_segmentation_cams.csv",
            "segmentation_cams_table.rst",
            "Study · Segmentation ablation",
        ),
        occlusion=reported(
            "results/tables/s1_occlusion.csv",
            "occlusion_table.rst",
            "Study · Segmentation ablation",
        ),
    log:
        "results/logs/aggregate_segmentation.log",
    benchmark:
        "results/benchmarks/aggregate_segmentation.tsv"
    conda:
        STUDY_ENV
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        test_scores=list(SEGMENTER_TEST_SCORES.values()),
        cam_scores=list(SEGMENTER_CAM_SCORES.values()),
        occlusion=list(SEGMENTER_OCCLUSION.values()),
        aggregate=canonical(config["aggregate"]),
        seed=config["seed"],
    script:
        "../../scripts/aggregate_segmentation.py"


rule figure_segmentation_cams:
    input:
        maps="results/segmenters/{segmenter}/cams/{method}.npz",
        split=lambda wc: SEGMENTER_SPLITS[wc.segmenter]["test"],
        test_masks="results/segmenters/{segmenter}/test_masks.npz",
    output:
        png=reported(
            "results/figures/s1/{segmenter}/{method}.png",
            "segmentation_cams.rst",
            "Study · Segmentation ablation",
            "{segmenter}",
        ),
        pdf="results/figures/s1/{segmenter}/{method}.pdf",
    log:
        log_path("figure_segmentation_cams", "segmenter", "method"),
    benchmark:
        benchmark_path("figure_segmentation_cams", "segmenter", "method")
    wildcard_constraints:
        method="|".join(m.replace("+", r"\+") for m in SEGMENTER_METHODS) or "^$",
    conda:
        STUDY_ENV
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        examples=lambda wc: config["segmenters"][wc.segmenter]["cams"]["examples"],
    script:
        "../../scripts/figure_segmentation_cams.py"


rule figure_occlusion:
    input:
        "results/tables/s1_occlusion.csv",
    output:
        png=reported(
            "results/figures/s1/{segmenter}/occlusion.png",
            "occlusion.rst",
            "Study · Segmentation ablation",
            "{segmenter}",
        ),
        pdf="results/figures/s1/{segmenter}/occlusion.pdf",
    log:
        log_path("figure_occlusion", "segmenter"),
    benchmark:
        benchmark_path("figure_occlusion", "segmenter")
    conda:
        STUDY_ENV
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../../scripts/figure_occlusion.py"
