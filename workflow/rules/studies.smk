# The studies' own outputs (../shared/STUDIES.md): one target rule per study and `figures` for all.
# `snakemake --configfile config/<study>.yaml --cores all s2_figures` (or `figures`) builds them.
if STUDIES["s3"]["enabled"]:

    rule s3_table:
        input:
            "results/tables/classifiers.csv",
        output:
            "results/tables/s3_lambda.csv",
        log:
            "results/logs/s3_table.log",
        benchmark:
            "results/benchmarks/s3_table.tsv"
        conda:
            ENV
        resources:
            mem_mb=1000,
            runtime=5,
        params:
            ce_weights={model: ce_weight_label(model) for model in LABEL_MODELS},
        script:
            "../scripts/s3_table.py"


localrules:
    s1_figures,
    s2_figures,
    s3_figures,
    s4_figures,
    figures,
    demo_segmentation,
    demo_shortcut,
    demos,


rule s1_figures:
    input:
        s1_outputs(),


rule s2_figures:
    input:
        s2_outputs(),


rule s3_figures:
    input:
        s3_outputs(),


rule s4_figures:
    input:
        s4_outputs(),


rule figures:
    input:
        all_figures(),
        study_outputs(),


# Demonstrations on the default config, outside the default target (each is minutes of training):
# `snakemake --cores all demo_segmentation` (U-Net, its CAMs, the occlusion study) and `demo_shortcut`
# (cross-entropy vs attention training on shapes with a class-coloured marker); `demos` builds both.
rule demo_segmentation:
    input:
        s1_outputs(),


rule demo_shortcut:
    input:
        shortcut_outputs(),


rule demos:
    input:
        s1_outputs(),
        shortcut_outputs(),
