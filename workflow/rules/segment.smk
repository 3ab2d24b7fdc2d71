# Segmenters (S1): a U-Net trained on a dataset's masks; its maps for a class region (Ablation-CAM
# re-runs only the decoder), scored like classifier maps; the occlusion study; and its predicted regions,
# which other stages can use as ground truth or as the attention region of S3.


rule train_segmenter:
    input:
        unpack(segmenter_dataset_splits),
    output:
        model="results/segmenters/{segmenter}/model.pt",
        history="results/segmenters/{segmenter}/history.csv",
        metrics="results/segmenters/{segmenter}/metrics.json",
        test_scores="results/segmenters/{segmenter}/test_scores.parquet",
        test_masks="results/segmenters/{segmenter}/test_masks.npz",
    log:
        log_path("train_segmenter", "segmenter"),
    benchmark:
        benchmark_path("train_segmenter", "segmenter")
    conda:
        ENV
    threads: 4
    resources:
        **GPU_RESOURCES,
        mem_mb=6000,
        runtime=60,
    params:
        **segmenter_params(),
        seed=config["seed"],
    script:
        "../scripts/train_segmenter.py"


rule segment_regions:
    input:
        model="results/segmenters/{segmenter}/model.pt",
        split="results/data/{dataset}/{split}.npz",
    output:
        "results/regions/{dataset}/{segmenter}/{split}.npz",
    log:
        log_path("segment_regions", "dataset", "segmenter", "split"),
    benchmark:
        benchmark_path("segment_regions", "dataset", "segmenter", "split")
    conda:
        ENV
    resources:
        **GPU_RESOURCES,
        mem_mb=4000,
        runtime=20,
    params:
        **segmenter_params(),
        batch_size=config["inference"]["batch_size"],
    script:
        "../scripts/segment_regions.py"


rule segmentation_cam:
    input:
        model="results/segmenters/{segmenter}/model.pt",
        split=segmenter_test_split,
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
        **segmenter_params(),
        settings=cam_settings(),
    script:
        "../scripts/segmentation_cam.py"


rule score_segmentation_cam:
    input:
        maps="results/segmenters/{segmenter}/cams/{method}.npz",
        split=segmenter_test_split,
    output:
        "results/segmenters/{segmenter}/scores/{method}.parquet",
    log:
        log_path("score_segmentation_cam", "segmenter", "method"),
    benchmark:
        benchmark_path("score_segmentation_cam", "segmenter", "method")
    wildcard_constraints:
        method="|".join(m.replace("+", r"\+") for m in SEGMENTER_METHODS) or "^$",
    conda:
        ENV
    resources:
        mem_mb=3000,
        runtime=20,
    params:
        metrics=canonical(config["metrics"]),
    script:
        "../scripts/score_segmentation_cam.py"


rule occlusion:
    input:
        model="results/segmenters/{segmenter}/model.pt",
        split=segmenter_test_split,
    output:
        "results/segmenters/{segmenter}/occlusion.parquet",
    log:
        log_path("occlusion", "segmenter"),
    benchmark:
        benchmark_path("occlusion", "segmenter")
    conda:
        ENV
    threads: 2
    resources:
        **GPU_RESOURCES,
        mem_mb=lambda wc: 2000 + int(config["cams"]["memory_budget_mb"]),
        runtime=60,
    params:
        **segmenter_params(),
        settings=cam_settings(),
        seed=config["seed"],
        stability_scale=config["metrics"]["stability_scale"],
    script:
        "../scripts/occlusion.py"


rule aggregate_segmentation:
    input:
        test_scores=expand(
            "results/segmenters/{segmenter}/test_scores.parquet", segmenter=SEGMENTERS
        ),
        cam_scores=[
            f"results/segmenters/{segmenter}/scores/{method}.parquet"
            for segmenter in SEGMENTERS
            for method in config["segmenters"][segmenter]["cams"]["methods"]
        ],
        occlusion=expand(
            "results/segmenters/{segmenter}/occlusion.parquet", segmenter=SEGMENTERS
        ),
    output:
        segmenters="results/tables/segmenters.csv",
        cams="results/tables/s1_segmentation_cams.csv",
        occlusion="results/tables/s1_occlusion.csv",
    log:
        "results/logs/aggregate_segmentation.log",
    benchmark:
        "results/benchmarks/aggregate_segmentation.tsv"
    conda:
        ENV
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        aggregate=canonical(config["aggregate"]),
        seed=config["seed"],
    script:
        "../scripts/aggregate_segmentation.py"


rule figure_s1:
    input:
        maps="results/segmenters/{segmenter}/cams/{method}.npz",
        split=segmenter_test_split,
        test_masks="results/segmenters/{segmenter}/test_masks.npz",
    output:
        png=report(
            "results/figures/s1/{segmenter}/{method}.png",
            caption="../report/s1.rst",
            category="5 · Segmentation (S1)",
            subcategory="{segmenter}",
        ),
        pdf="results/figures/s1/{segmenter}/{method}.pdf",
    log:
        log_path("figure_s1", "segmenter", "method"),
    benchmark:
        benchmark_path("figure_s1", "segmenter", "method")
    wildcard_constraints:
        method="|".join(m.replace("+", r"\+") for m in SEGMENTER_METHODS) or "^$",
    conda:
        ENV
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        examples=lambda wc: config["segmenters"][wc.segmenter]["cams"]["examples"],
    script:
        "../scripts/figure_s1.py"


rule figure_occlusion:
    input:
        "results/tables/s1_occlusion.csv",
    output:
        png=report(
            "results/figures/s1/{segmenter}/occlusion.png",
            caption="../report/occlusion.rst",
            category="5 · Segmentation (S1)",
            subcategory="{segmenter}",
        ),
        pdf="results/figures/s1/{segmenter}/occlusion.pdf",
    log:
        log_path("figure_occlusion", "segmenter"),
    benchmark:
        benchmark_path("figure_occlusion", "segmenter")
    conda:
        ENV
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/figure_occlusion.py"
