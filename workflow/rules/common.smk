# Shared names, paths and wildcard constraints.
import copy
from pathlib import Path

import camsweep.shards

from camsweep.cams import SHARED_PASS_METHODS
from camsweep.config import (
    cam_layers,
    canonical,
    configured_classes,
    example_layer,
    explains_imagenet,
    has_masks,
    randomise_from,
    shortcut_synthetic,
    trains,
)
from camsweep.models.segmentation import channel_names_for
from camsweep.perturb import CLEAN
from camsweep.tables import SHORTCUT_MARKERS, SHORTCUT_TRAININGS

ENV = "../../envs/camsweep.yaml"
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
CAM_METHODS = config["cams"]["methods"]
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
# The shortcut study's two trainings and its three test sets (marker as in training, none, another class's).
TRAININGS = list(SHORTCUT_TRAININGS)
MARKERS = list(SHORTCUT_MARKERS)

# CAM jobs: methods sharing one pass run together; re-running methods get a job each.
SHARED_METHODS = [m for m in CAM_METHODS if m in SHARED_PASS_METHODS]
RERUN_METHODS = [m for m in CAM_METHODS if m not in SHARED_PASS_METHODS]
# Keys of config["cams"] that are camsweep.cams.CamSettings fields.
CAM_SETTINGS = ("batch_size", "memory_budget_mb", "scorecam_top_k")


# Rules that run a network ask a cluster for one GPU when the config's device is CUDA (the SLURM
# executor turns `gpu` into --gpus); locally the resource is unconstrained.
GPU_RESOURCES = {"gpu": 1} if str(config["device"]).startswith("cuda") else {}

# shards.images: the per-image stages (CAMs, scores, faithfulness, sanity) run one job per shard of the
# test split, and shards.smk merges their files into the paths an unsharded run writes.
SHARD_IMAGES = config["shards"]["images"]
SHARDED = SHARD_IMAGES is not None
SHARD_WILDCARDS = ["shard"] if SHARDED else []


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


def faithfulness_layers(model, method):
    """The configured faithfulness layers this method has maps for."""
    layers = cam_layers(config, model, method)
    return [layer for layer in config["faithfulness"]["layers"] if layer in layers]


def faithfulness_paths():
    """Faithfulness scores of every (dataset, model, method) that has maps at a configured faithfulness layer."""
    return [
        f"results/faithfulness/{dataset}/{model}/{method}.parquet"
        for dataset in CLASSIFIED_DATASETS
        for model in MODELS
        for method in CAM_METHODS
        if faithfulness_layers(model, method)
    ]


def cam_inputs(conditions):
    """A CAM job's inputs: the model, and the images and predictions of its conditions (in order)."""
    return {
        "model": "results/models/{dataset}/{model}.pt",
        "images": condition_paths(
            "results/perturbed/{{dataset}}/{perturbation}/{severity}.npz", conditions
        ),
        "predictions": condition_paths(
            "results/predictions/{{dataset}}/{{model}}/{perturbation}/{severity}.parquet",
            conditions,
        ),
        "clean_predictions": "results/predictions/{dataset}/{model}/none/0.parquet",
        "split": "results/data/{dataset}/test.npz",
        **shard_plan(),
    }


def cam_map_paths(methods, conditions):
    """A CAM job's maps, one file per (condition, method): conditions outermost, then `methods` in order.
    A method may be the wildcard "{method}"."""
    return [
        per_image_path(
            f"results/cams/{{dataset}}/{{model}}/{method}/{perturbation}/{severity}.npz"
        )
        for perturbation, severity in conditions
        for method in methods
    ]


def cam_settings():
    """The config's camsweep.cams.CamSettings fields, in canonical order."""
    return canonical({k: v for k, v in config["cams"].items() if k in CAM_SETTINGS})


def cam_params(methods, conditions):
    """Params shared by the CAM rules; `methods(wildcards)` lists the job's methods."""
    return {
        "conditions": conditions,
        "methods": methods,
        "layers": lambda wc: {m: cam_layers(config, wc.model, m) for m in methods(wc)},
        "target": config["cams"]["target"],
        "settings": cam_settings(),
        "device": config["device"],
    }


def segmenter_channels(segmenter):
    """The output channels a segmenter's config implies (checked against its checkpoint)."""
    options = config["segmenters"][segmenter]
    classes = configured_classes(config, options["dataset"]) or []
    return list(channel_names_for(options["masks"], classes))


def attention_regions(attention, dataset):
    """A training job's attention regions predicted by a segmenter (train and val), if it needs them."""
    if attention is None or attention["region"] == "truth":
        return []
    return [
        f"results/regions/{dataset}/{attention['region']}/{split}.npz"
        for split in ("train", "val")
    ]


def ground_truth_regions(wildcards):
    """The score stage's predicted-region input when the dataset takes its regions from a segmenter."""
    segmenter = config["datasets"][wildcards.dataset]["regions_from"]
    if segmenter is None:
        return {}
    return {"regions": f"results/regions/{wildcards.dataset}/{segmenter}/test.npz"}


def segmenter_dataset_splits(wildcards):
    dataset = config["segmenters"][wildcards.segmenter]["dataset"]
    return {split: f"results/data/{dataset}/{split}.npz" for split in SPLITS}


def segmenter_test_split(wildcards):
    dataset = config["segmenters"][wildcards.segmenter]["dataset"]
    return f"results/data/{dataset}/test.npz"


def segmenter_params():
    """Params of every job that loads a segmenter: its config and the channels it must have."""
    return {
        "segmenter": lambda wc: canonical(config["segmenters"][wc.segmenter]),
        "channels": lambda wc: segmenter_channels(wc.segmenter),
        "device": config["device"],
    }


SEGMENTER_METHODS = sorted(
    {m for s in SEGMENTERS for m in config["segmenters"][s]["cams"]["methods"]}
)


SHORTCUT_SPLITS = ["train", "val", *(f"test_{marker}" for marker in MARKERS)]


def shortcut_model(wildcards):
    """models.<model> with the attention term on (shortcut.attention) or off."""
    options = copy.deepcopy(config["models"][wildcards.model])
    attention = SHORTCUT["attention"] if wildcards.training == "attention" else None
    options["train"]["attention"] = attention
    return canonical(options)


def training_kind(model):
    """ce or attention (the loss it was trained with), or pretrained (used as loaded, no training)."""
    options = config["models"][model]
    if not trains(options):
        return "pretrained"
    return "ce" if options["train"]["attention"] is None else "attention"


def classifier_reports():
    """Each trained classifier's predictions on its own clean test images, keyed for the table."""
    return {
        f"main/{dataset}/{model}/{training_kind(model)}": f"results/predictions/{dataset}/{model}/none/0.parquet"
        for dataset in CLASSIFIED_DATASETS
        for model in LABEL_MODELS
    }


def shortcut_reports():
    """The shortcut study's two trainings, keyed for the classification-report table."""
    if not SHORTCUT["enabled"]:
        return {}
    return {
        f"shortcut/{SHORTCUT['dataset']}/{SHORTCUT['model']}/{training}": f"results/shortcut/{SHORTCUT['dataset']}/{SHORTCUT['model']}/{training}.parquet"
        for training in TRAININGS
    }


wildcard_constraints:
    dataset="|".join(DATASETS),
    segmenter="|".join(SEGMENTERS) or "^$",
    training="|".join(TRAININGS),
    marker="|".join(MARKERS),
    model="|".join(MODELS) or "^$",
    perturbation="|".join([CLEAN[0], *config["perturbations"]]),
    severity="[0-5]",
    method="|".join(m.replace("+", r"\+") for m in CAM_METHODS),
    split="|".join(SPLITS),
    shard=r"\d+",


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


def condition_paths(pattern, conditions=None, **fixed):
    """`pattern` formatted for every condition (perturbation, severity) of `conditions` (default: all),
    other wildcards fixed."""
    return [
        pattern.format(perturbation=p, severity=s, **fixed)
        for p, s in (CONDITIONS if conditions is None else conditions)
    ]


def all_tables():
    """The core chain's tables: classification, CAM scores, localisation, faithfulness, sanity."""
    tables = ["results/tables/classifiers.csv"] if classifier_reports() else []
    if CLASSIFIED_DATASETS and LABEL_MODELS:
        tables.append("results/tables/classification.csv")
    if CLASSIFIED_DATASETS and MODELS:
        tables += [
            "results/tables/cam_metrics.csv",
            "results/tables/box_vs_mask.csv",
            "results/tables/s4_table1.csv",
            "results/tables/method_comparisons.csv",
            "results/tables/sanity.csv",
            "results/tables/wsol.csv",
        ]
    if faithfulness_paths():
        tables.append("results/tables/faithfulness.csv")
    return tables


FIGURES = ["training", "classification", "stability", "box_vs_mask", "examples"]


def model_figures(dataset, model):
    """The per-(dataset, model) figures that apply: no training curve without training, no classification
    figure for an ImageNet head, no box-vs-mask figure without masks."""
    skip = set()
    if model not in TRAINED_MODELS:
        skip.add("training")
    if model not in LABEL_MODELS:
        skip.add("classification")
    if dataset in MASKLESS_DATASETS:
        skip.add("box_vs_mask")
    return [figure for figure in FIGURES if figure not in skip]


def all_figures():
    """The core chain's figures, per (dataset, model)."""
    return [
        f"results/figures/{dataset}/{model}/{figure}.{ext}"
        for dataset in CLASSIFIED_DATASETS
        for model in MODELS
        for figure in model_figures(dataset, model)
        for ext in ("png", "pdf")
    ]


def figure_outputs(name, caption, category):
    return {
        "png": report(
            f"results/figures/{{dataset}}/{{model}}/{name}.png",
            caption=f"../report/{caption}",
            category=category,
            subcategory="{dataset} · {model}",
        ),
        "pdf": f"results/figures/{{dataset}}/{{model}}/{name}.pdf",
    }


# The studies' target rules (studies.smk): what each one builds.
STUDIES = config["studies"]


def ce_weight_label(model):
    """λ of a classifier in S3's table: 1 for cross-entropy only, else its attention ce_weight."""
    attention = config["models"][model]["train"]["attention"]
    return "1" if attention is None else str(attention["ce_weight"])


def s1_outputs():
    """Every segmenter's test scores, maps and occlusion study (tables and figures)."""
    if not SEGMENTERS:
        return []
    figures = [
        f"results/figures/s1/{segmenter}/{name}.{ext}"
        for segmenter in SEGMENTERS
        for name in [
            "occlusion",
            *config["segmenters"][segmenter]["cams"]["methods"],
        ]
        for ext in ("png", "pdf")
    ]
    return [
        "results/tables/segmenters.csv",
        "results/tables/s1_segmentation_cams.csv",
        "results/tables/s1_occlusion.csv",
    ] + figures


def shortcut_outputs():
    """The shortcut study's tables (per test set; classification report) and figure."""
    if not SHORTCUT["enabled"]:
        return []
    return [
        "results/tables/shortcut.csv",
        "results/tables/shortcut_classifiers.csv",
    ] + [
        f"results/figures/shortcut/{SHORTCUT['dataset']}/{SHORTCUT['model']}.{ext}"
        for ext in ("png", "pdf")
    ]


def s3_outputs():
    outputs = ["results/tables/s3_lambda.csv"] if STUDIES["s3"]["enabled"] else []
    return outputs + shortcut_outputs()


def s4_outputs():
    if not (CLASSIFIED_DATASETS and MODELS):
        return []
    return (
        [
            "results/tables/s4_table1.csv",
            "results/tables/box_vs_mask.csv",
            "results/tables/wsol.csv",
        ]
        + (["results/tables/faithfulness.csv"] if faithfulness_paths() else [])
        + [
            f"results/figures/{dataset}/{model}/{figure}.{ext}"
            for dataset in CLASSIFIED_DATASETS
            for model in MODELS
            for figure in model_figures(dataset, model)
            if figure in ("box_vs_mask", "examples")
            for ext in ("png", "pdf")
        ]
    )


def study_outputs():
    """The outputs of the studies switched on under `studies:` (S4's are core outputs)."""
    outputs = s1_outputs() if STUDIES["s1"]["enabled"] else []
    if STUDIES["s3"]["enabled"]:
        outputs += s3_outputs()
    return outputs + s2_outputs() + s4_outputs()


S2 = config["studies"]["s2"]
# Per (dataset, model): RMSE vs layer, RMSE against ΔAUC by severity, and by layer.
S2_MODEL_FIGURES = ["layers", "by_severity", "by_layer"]


def s2_model_labels():
    """Legend labels of the S2 augmentation figure."""
    return {
        model: (
            f"{model} (train-time augmentation)"
            if config["models"][model]["train"]["augmentation"]
            else model
        )
        for model in LABEL_MODELS
    }


def s2_outputs():
    if not (S2["enabled"] and CLASSIFIED_DATASETS and LABEL_MODELS):
        return []
    return [
        "results/tables/s2_rmse.csv",
        "results/tables/s2_delta_auc_area.csv",
        "results/tables/classification.csv",
    ] + [
        path
        for dataset in CLASSIFIED_DATASETS
        for path in [
            f"results/figures/s2/{dataset}/{model}/{name}.{ext}"
            for model in LABEL_MODELS
            for name in S2_MODEL_FIGURES
            for ext in ("png", "pdf")
        ]
        + [f"results/figures/s2/{dataset}/augmentation.{ext}" for ext in ("png", "pdf")]
    ]
