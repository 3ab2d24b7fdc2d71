# camsweep — how far can a model's visual explanations be trusted?
# Entry point: `snakemake --cores N` (default config) or `--configfile config/<study>.yaml`.
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


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/perturb.smk"
include: "workflow/rules/infer.smk"
include: "workflow/rules/cam.smk"
include: "workflow/rules/metrics.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/sanity.smk"
include: "workflow/rules/faithfulness.smk"
include: "workflow/rules/shards.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/segment.smk"
include: "workflow/rules/shortcut.smk"
include: "workflow/rules/s2.smk"
include: "workflow/rules/studies.smk"


# The default target: the core chain (data → perturbations → predictions → CAMs → scores → tables and
# figures) and the studies switched on under `studies:`. Demonstrations: workflow/rules/studies.smk.
rule all:
    input:
        all_tables(),
        all_figures(),
        study_outputs(),
