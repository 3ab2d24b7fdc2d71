# camsweep — how far can a model's visual explanations be trusted?
# Entry point: `snakemake --cores N` (default config) or `--configfile config/studies/<study>.yaml`.
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")


# The default config applies only when no --configfile is given: a study's or a user's config is complete on
# its own (Snakemake would otherwise merge it onto the default, and the default's keys would leak into it).
if not workflow.overwrite_configfiles:

    configfile: str(Path(workflow.basedir) / "config/config.yaml")


import camsweep.config

camsweep.config.validate(
    config,
    camsweep.config.load_schema(
        Path(workflow.basedir) / "workflow/schemas/config.schema.yaml"
    ),
)


# `snakemake --report`: every figure and the main tables, grouped by core stage and by study.
report: "workflow/report/workflow.rst"


# Core stages, one file each, in the order of the chain (docs/architecture.md).
include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/perturb.smk"
include: "workflow/rules/infer.smk"
include: "workflow/rules/cam.smk"
include: "workflow/rules/metrics.smk"
include: "workflow/rules/faithfulness.smk"
include: "workflow/rules/sanity.smk"
include: "workflow/rules/shards.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/reliability.smk"
include: "workflow/rules/figures.smk"
# Study wings (docs/studies.md): each reuses core rules, adds its own, and registers its outputs.
include: "workflow/rules/studies/segmentation_ablation.smk"
include: "workflow/rules/studies/perturbation_robustness.smk"
include: "workflow/rules/studies/attention_training.smk"
include: "workflow/rules/studies/box_vs_mask.smk"


localrules:
    all,
    figures,
    demos,


# The default target: the core chain (data → perturbations → predictions → CAMs → scores → tables and
# figures) and the study wings switched on under `studies:`.
rule all:
    input:
        CORE_TABLES,
        CORE_FIGURES,
        study_outputs(),


# Every figure of the core chain and of the switched-on studies.
rule figures:
    input:
        CORE_FIGURES,
        study_outputs(),


# Both demonstrations on the default data (`make demo`): outside the default target, minutes of training.
rule demos:
    input:
        rules.demo_segmentation.input,
        rules.demo_shortcut.input,
