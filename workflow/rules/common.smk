# Config views, wildcard constraints and path helpers shared by every rule file. Input functions live
# beside their rules; each study wing (rules/studies/) keeps its own.
import itertools
from pathlib import Path

import camsweep.shards

from camsweep.cams import BASELINES, SHARED_PASS_METHODS
from camsweep.config import (
    cam_layers,
    cam_methods,
    cam_settings,
    canonical,
    configured_classes,
    example_layer,
    explains_imagenet,
    has_masks,
    randomise_from,
    sanity_blocks,
    shortcut_synthetic,
    trains,
)
from camsweep.perturb import CLEAN

ENV = "../../envs/camsweep.yaml"
# The same environment, from a study wing's rule file one folder further down.
STUDY_ENV = f"../{ENV}"
DATASETS = sorted(config["datasets"])
# Datasets whose images the classifiers learn and explain (the others only feed segmenters).
CLASSIFIED_DATASETS = [d for d in DATASETS if config["datasets"][d]["classify"]]
SYNTHETIC_DATASETS = [
    d for d in DATASETS if config["datasets"][d]["source"] == "synthetic"
]
REAL_DATASETS = [d for d in DATASETS if d not in SYNTHETIC_DATASETS]
# Datasets known to have no masks: their localisation scores are NaN and their box-vs-mask figure is skipped.
MASKLESS_DATASETS = [d for d in DATASETS if has_masks(config["datasets"][d]) is False]
MODELS = sorted(config["models"])
# Models that predict the datasets' own classes (not a kept ImageNet head): accuracy and ROC-AUC apply.
LABEL_MODELS = [m for m in MODELS if not explains_imagenet(config["models"][m])]
TRAINED_MODELS = [m for m in MODELS if trains(config["models"][m])]
# The configured methods and the baseline maps (cams.baselines), computed and scored alike.
CAM_METHODS = cam_methods(config)
BASELINE_METHODS = [m for m in CAM_METHODS if m in BASELINES]
# The clean images are condition CLEAN = ("none", 0); perturbed conditions follow the config.
CONDITIONS = [CLEAN] + [
    (name, severity)
    for name, severities in sorted(config["perturbations"].items())
    for severity in sorted(severities)
]
# The per-condition stages (perturb, predict, CAMs) run one job per batch of conditions, not per condition
# (a job's start-up costs more than a condition's work): the clean images alone, which the sanity check and
# faithfulness also read, so that changing the perturbations leaves every clean artifact alone; and every
# perturbed condition together. The clean batch's rules are named <stage>_clean.
CONDITION_BATCHES = {
    suffix: batch
    for suffix, batch in (("", CONDITIONS[1:]), ("_clean", [CLEAN]))
    if batch
}
SPLITS = ["train", "val", "test"]
SEGMENTERS = sorted(config["segmenters"])
SHORTCUT = config["shortcut"]

# Rules that run a network ask a cluster for one GPU when the config's device is CUDA (the SLURM
# executor turns `gpu` into --gpus); locally the resource is unconstrained.
GPU_RESOURCES = {"gpu": 1} if str(config["device"]).startswith("cuda") else {}

# shards.images: the per-image stages (CAMs, scores, faithfulness, sanity) run one job per shard of the
# test split, and shards.smk merges their files into the paths an unsharded run writes.
SHARD_IMAGES = config["shards"]["images"]
SHARDED = SHARD_IMAGES is not None
SHARD_WILDCARDS = ["shard"] if SHARDED else []


def enabled(section):
    """The one switch idiom of optional parts: `<section>.enabled` (a study wing: `studies.<name>.enabled`)."""
    return bool(section["enabled"])


# Each study wing registers its outputs here; `rule all` builds those of the switched-on ones.
STUDY_OUTPUTS = {}


def study_outputs():
    """The outputs of the study wings switched on under `studies:`."""
    return [
        path
        for name, outputs in STUDY_OUTPUTS.items()
        if enabled(config["studies"][name])
        for path in outputs
    ]


def per_image_path(path, shard="{shard}"):
    """Where a per-image stage writes `path` (results/<stage>/<rest>.<ext>): there itself, or, sharded,
    one file per shard at results/shards/<stage>/<rest>/<shard>.<ext>."""
    if not SHARDED:
        return path
    results, stage, *rest = Path(path).parts
    stem, _, suffix = rest[-1].partition(".")
    return str(Path(results, "shards", stage, *rest[:-1], stem, f"{shard}.{suffix}"))


def shard_plan():
    """The shard-plan input of a per-image job, when sharded."""
    return {"plan": "results/shards/plans/{dataset}.json"} if SHARDED else {}


def shard_files(path):
    """A merge rule's input function: `path`'s shard files for the job's wildcards, in plan order."""

    def files(wildcards):
        plan = checkpoints.plan_shards.get(dataset=wildcards.dataset).output[0]
        count = len(camsweep.shards.load_plan(plan))
        pattern = per_image_path(path)
        return [
            pattern.format(**dict(wildcards.items()), shard=i) for i in range(count)
        ]

    return files


def condition_paths(pattern, conditions=None, **fixed):
    """`pattern` formatted for every condition (perturbation, severity) of `conditions` (default: all),
    other wildcards fixed."""
    return [
        pattern.format(perturbation=p, severity=s, **fixed)
        for p, s in (CONDITIONS if conditions is None else conditions)
    ]


def keyed_artifacts(pattern, conditions=False, **axes):
    """{path: keys} for every combination of `axes` (name → values, outermost first), and every condition
    innermost when `conditions`. An aggregator reads each artifact's keys from here (params), never from
    its path."""
    artifacts = {}
    for values in itertools.product(*axes.values()):
        keys = dict(zip(axes, values))
        for perturbation, severity in CONDITIONS if conditions else [(None, None)]:
            if conditions:
                keys = {**keys, "perturbation": perturbation, "severity": severity}
            artifacts[pattern.format(**keys)] = dict(keys)
    return artifacts


wildcard_constraints:
    dataset="|".join(DATASETS),
    segmenter="|".join(SEGMENTERS) or "^$",
    model="|".join(MODELS) or "^$",
    perturbation="|".join([CLEAN[0], *config["perturbations"]]),
    severity="[0-5]",
    method="|".join(m.replace("+", r"\+") for m in CAM_METHODS),
    split="|".join(SPLITS),
    shard=r"\d+",


def reported(path, caption, category, subcategory=None):
    """An output shown in `snakemake --report`, captioned from workflow/report/<caption>, under a stage of the
    core ("Core · …") or a study ("Study · …")."""
    caption_path = Path(workflow.basedir) / "workflow/report" / caption
    options = {"subcategory": subcategory} if subcategory else {}
    return report(path, caption=str(caption_path), category=category, **options)


def figure_outputs(name, caption, category):
    """A per-(dataset, model) figure's outputs: the PNG, in the report, and the PDF."""
    return {
        "png": reported(
            f"results/figures/{{dataset}}/{{model}}/{name}.png",
            caption,
            category,
            "{dataset} · {model}",
        ),
        "pdf": f"results/figures/{{dataset}}/{{model}}/{name}.pdf",
    }


def log_path(rule_name, *wildcard_names):
    """results/logs/<rule>/{w1}/{w2}….log"""
    return (
        str(Path("results/logs", rule_name, *(f"{{{w}}}" for w in wildcard_names)))
        + ".log"
    )


def benchmark_path(rule_name, *wildcard_names):
    """results/benchmarks/<rule>/{w1}/{w2}….tsv"""
    return (
        str(
            Path("results/benchmarks", rule_name, *(f"{{{w}}}" for w in wildcard_names))
        )
        + ".tsv"
    )
