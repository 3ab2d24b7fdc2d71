# Box versus mask (docs/studies.md): every localisation metric against the box and against the mask
# (core: aggregate_cams writes box_vs_mask.csv, figure_box_vs_mask draws it), and the study's Table 1 —
# each metric as corrected here and as the seed code computes it, beside the published averages.
# Target: box_vs_mask.


STUDY_OUTPUTS["box_vs_mask"] = BOX_VS_MASK_OUTPUTS = (
    [
        "results/tables/s4_table1.csv",
        "results/tables/box_vs_mask.csv",
        "results/tables/wsol.csv",
    ]
    + (["results/tables/faithfulness.csv"] if FAITHFULNESS_SCORES else [])
    + [
        f"results/figures/{dataset}/{model}/{figure}.{ext}"
        for (dataset, model), figures in MODEL_FIGURES.items()
        for figure in figures
        if figure in ("box_vs_mask", "examples")
        for ext in ("png", "pdf")
    ]
    if CLASSIFIED_DATASETS and MODELS
    else []
)


localrules:
    box_vs_mask,


rule box_vs_mask:
    input:
        BOX_VS_MASK_OUTPUTS,


rule box_vs_mask_table:
    input:
        "results/tables/cam_metrics.csv",
    output:
        reported(
            "results/tables/s4_table1.csv", "table1.rst", "Study · Box versus mask"
        ),
    log:
        "results/logs/box_vs_mask_table.log",
    benchmark:
        "results/benchmarks/box_vs_mask_table.tsv"
    conda:
        STUDY_ENV
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        # The published values sit beside the run of the study's network only (like for like).
        architectures={m: config["models"][m]["architecture"] for m in MODELS},
        baselines=BASELINE_METHODS,
    script:
        "../../scripts/box_vs_mask_table.py"
