# Shared names, paths and wildcard constraints.
import copy
from pathlib import Path

from camsweep.cams import SHARED_PASS_METHODS
from camsweep.config import cam_layers, canonical, shortcut_synthetic
from camsweep.models.segmentation import channel_names_for
from camsweep.perturb import CLEAN
from camsweep.tables import SHORTCUT_MARKERS, SHORTCUT_TRAININGS

ENV = "../../envs/camsweep.yaml"
DATASETS = sorted(config["datasets"])
MODELS = sorted(config["models"])
CAM_METHODS = config["cams"]["methods"]
# The clean images are condition CLEAN = ("none", 0); perturbed conditions follow the config.
CONDITIONS = [CLEAN] + [
    (name, severity)
    for name, severities in sorted(config["perturbations"].items())
    for severity in sorted(severities)
]
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


def faithfulness_layers(model, method):
    """The configured faithfulness layers this method has maps for."""
    layers = cam_layers(config, model, method)
    return [layer for layer in config["faithfulness"]["layers"] if layer in layers]


def cam_inputs():
    return {
        "model": "results/models/{dataset}/{model}.pt",
        "images": "results/perturbed/{dataset}/{perturbation}/{severity}.npz",
        "predictions": "results/predictions/{dataset}/{model}/{perturbation}/{severity}.parquet",
        "clean_predictions": "results/predictions/{dataset}/{model}/none/0.parquet",
        "split": "results/data/{dataset}/test.npz",
    }


def cam_settings():
    """The config's camsweep.cams.CamSettings fields, in canonical order."""
    return canonical({k: v for k, v in config["cams"].items() if k in CAM_SETTINGS})


def cam_params(methods):
    """Params shared by both CAM rules; `methods(wildcards)` lists the job's methods."""
    return {
        "methods": methods,
        "layers": lambda wc: {m: cam_layers(config, wc.model, m) for m in methods(wc)},
        "target": config["cams"]["target"],
        "settings": cam_settings(),
        "device": config["device"],
    }


def segmenter_channels(segmenter):
    """The output channels a segmenter's config implies (checked against its checkpoint)."""
    options = config["segmenters"][segmenter]
    classes = config["datasets"][options["dataset"]]["synthetic"]["classes"]
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


def classifier_reports():
    """Each trained classifier's predictions on its own clean test images, keyed for the table."""
    reports = {
        f"main/{dataset}/{model}/{'ce' if config['models'][model]['train']['attention'] is None else 'attention'}": f"results/predictions/{dataset}/{model}/none/0.parquet"
        for dataset in DATASETS
        for model in MODELS
    }
    if SHORTCUT["enabled"]:
        reports |= {
            f"shortcut/{SHORTCUT['dataset']}/{SHORTCUT['model']}/{training}": f"results/shortcut/{SHORTCUT['dataset']}/{SHORTCUT['model']}/{training}.parquet"
            for training in TRAININGS
        }
    return reports


wildcard_constraints:
    dataset="|".join(DATASETS),
    segmenter="|".join(SEGMENTERS) or "^$",
    training="|".join(TRAININGS),
    marker="|".join(MARKERS),
    model="|".join(MODELS),
    perturbation="|".join([CLEAN[0], *config["perturbations"]]),
    severity="[0-5]",
    method="|".join(m.replace("+", r"\+") for m in CAM_METHODS),
    split="|".join(SPLITS),


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


def condition_paths(pattern, **fixed):
    """`pattern` formatted for every condition (perturbation, severity), other wildcards fixed."""
    return [pattern.format(perturbation=p, severity=s, **fixed) for p, s in CONDITIONS]


def all_tables():
    tables = [
        "results/tables/classifiers.csv",
        "results/tables/classification.csv",
        "results/tables/cam_metrics.csv",
        "results/tables/box_vs_mask.csv",
        "results/tables/s4_table1.csv",
        "results/tables/method_comparisons.csv",
        "results/tables/sanity.csv",
        "results/tables/wsol.csv",
        "results/tables/faithfulness.csv",
    ]
    if SEGMENTERS:
        tables += [
            "results/tables/segmenters.csv",
            "results/tables/s1_segmentation_cams.csv",
            "results/tables/s1_occlusion.csv",
        ]
    if SHORTCUT["enabled"]:
        tables.append("results/tables/shortcut.csv")
    return tables


FIGURES = ["training", "classification", "stability", "box_vs_mask", "examples"]


def all_figures():
    figures = [
        f"results/figures/{dataset}/{model}/{figure}.{ext}"
        for dataset in DATASETS
        for model in MODELS
        for figure in FIGURES
        for ext in ("png", "pdf")
    ]
    for segmenter in SEGMENTERS:
        names = ["occlusion", *config["segmenters"][segmenter]["cams"]["methods"]]
        figures += [
            f"results/figures/s1/{segmenter}/{name}.{ext}"
            for name in names
            for ext in ("png", "pdf")
        ]
    if SHORTCUT["enabled"]:
        figures += [
            f"results/figures/shortcut/{SHORTCUT['dataset']}/{SHORTCUT['model']}.{ext}"
            for ext in ("png", "pdf")
        ]
    return figures


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
