"""The four study configs (config/studies/*.yaml): their full DAGs (dry runs), and a real run of a tiny variant of
each on fake data in the real on-disk layouts; a download that cannot happen fails fast and leaves nothing."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torchvision
import yaml

from camsweep import io
from camsweep.studies.box_vs_mask import tables as box_vs_mask_tables
from fake_datasets import make_image_folder, make_medmnist_npz, make_oxford_pet_tree

pytestmark = pytest.mark.pipeline
ROOT = Path(__file__).resolve().parents[1]
ROBUSTNESS_LAYERS = [f"layer{i}.{j}.conv2" for i in range(1, 5) for j in range(2)]
# No request leaves the machine: every download goes to a port where nothing listens, and the Hugging Face
# hub (timm's weights) is offline.
OFFLINE = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": "", "HF_HUB_OFFLINE": "1"}


def study(name):
    return yaml.safe_load((ROOT / "config" / "studies" / name).read_text())


def run(workdir, cfg, *args, check=True):
    (workdir / "study.yaml").write_text(yaml.safe_dump(cfg))
    env = {**os.environ, **OFFLINE, "TORCH_HOME": str(workdir / "torch"), "HF_HOME": str(workdir / "hf")}
    env.pop("HF_HUB_CACHE", None)
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
         "--configfile", str(workdir / "study.yaml"), "--cores", "2", *args],
        capture_output=True, text=True, timeout=1200, env=env,
    )
    if check:
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result


def planned_jobs(output):
    table = output.split("Job stats:")[1].split("total")[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def shrink(cfg):
    """CPU, one short epoch, few resamples: the study's DAG at a test's cost."""
    cfg["device"] = "cpu"
    cfg["aggregate"] = {"bootstrap_resamples": 200}
    for model in cfg.get("models", {}).values():
        if model["train"].get("epochs", 8) > 0:
            model["train"] |= {"epochs": 1, "batch_size": 16, "precision": "float32"}
    for segmenter in cfg.get("segmenters", {}).values():
        segmenter["widths"] = [4, 8, 8, 16]
        segmenter["train"] = {"epochs": 1, "batch_size": 16, "precision": "float32"}
    return cfg


def fake_imagenet_weights(workdir, architecture):
    """A seeded random state dict where torch hub caches the architecture's ImageNet weights."""
    url = torchvision.models.get_model_weights(architecture).DEFAULT.url
    path = workdir / "torch/hub/checkpoints" / url.rsplit("/", 1)[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    torch.save(torchvision.models.get_model(architecture, weights=None).state_dict(), path)


def fake_timm_weights(workdir, name):
    """A seeded random state dict where timm's pretrained_cfg sends its weights: the Hugging Face cache for a hub
    id (snapshots/main, no refs: as placed by hand), torch hub's checkpoints folder for a URL."""
    import timm
    from safetensors.torch import save_file

    cfg = timm.models.get_pretrained_cfg(name)
    torch.manual_seed(0)
    state = timm.create_model(name, pretrained=False).state_dict()
    if cfg.hf_hub_id:
        path = workdir / "hf/hub" / f"models--{cfg.hf_hub_id.replace('/', '--')}" / "snapshots/main/model.safetensors"
        path.parent.mkdir(parents=True)
        save_file(state, str(path))
    else:
        path = workdir / "torch/hub/checkpoints" / cfg.url.rsplit("/", 1)[1]
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(state, path)


def logs_without_traceback(workdir):
    for log in (workdir / "results/logs").rglob("*.log"):
        assert "Traceback" not in log.read_text(), log


@pytest.mark.parametrize("config_name,expected", [
    ("segmentation_ablation.yaml", {"train_segmenter": 1, "segmentation_cam": 3, "occlusion": 1, "figure_segmentation_cams": 3}),
    # CAM jobs per (dataset, model): one for the perturbed conditions, one for the clean images.
    ("perturbation_robustness.yaml", {"download_dataset": 2, "train_classifier": 4, "cam_shared": 4, "cam_shared_clean": 4,
                                     "figure_robustness": 4, "figure_robustness_augmentation": 2, "robustness_tables": 1}),
    # ResNet-50 ×4, VGG16 ×2, PVT-v2-b2-li ×2 (timm).
    ("attention_training.yaml", {"train_classifier": 8, "train_segmenter": 1, "segment_regions": 2, "attention_lambda_table": 1}),
    # Xception (timm), ResNet-50, VGG16.
    ("box_vs_mask.yaml", {"download_dataset": 1, "train_classifier": 3, "cam_shared": None, "cam_shared_clean": 3,
                                  "figure_box_vs_mask": 3}),  # clean images only: no perturbed batch
])
def test_full_study_dag(tmp_path, config_name, expected):
    jobs = planned_jobs(run(tmp_path, study(config_name), "--dry-run", "figures").stdout)
    assert {rule: jobs.get(rule) for rule in expected} == expected


def test_download_impossible_fails_fast_and_leaves_nothing(tmp_path):
    cfg = study("box_vs_mask.yaml")  # download: true, nothing on disk, no network
    result = run(tmp_path, cfg, "results/data/pets/test.npz", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "oxford-iiit-pet" in output and "trimaps" in output and "trainval.txt" in output
    assert str((tmp_path / "data/raw/oxford_pet").resolve()) in output
    assert not (tmp_path / "results/data").exists() and not (tmp_path / "results/downloads/pets.json").exists()
    assert planned_jobs(run(tmp_path, cfg, "--dry-run", "results/data/pets/test.npz").stdout)["download_dataset"] == 1


@pytest.mark.full
def test_box_vs_mask_tiny(tmp_path):
    make_oxford_pet_tree(tmp_path / "data/raw/oxford_pet", images_per_breed=3, missing=("Egyptian_Mau_2",),
                         breeds=("Abyssinian", "Bengal", "Egyptian_Mau", "chihuahua", "scottish_terrier"))
    for architecture in ("resnet18", "vgg16"):
        fake_imagenet_weights(tmp_path, architecture)
    fake_timm_weights(tmp_path, "legacy_xception")  # a URL in timm's pretrained_cfg: torch hub's cache
    cfg = shrink(study("box_vs_mask.yaml"))
    cfg["datasets"]["pets"] |= {"download": False, "image_size": 64}  # Xception's act4: 2×2 at 64 px
    # The study's Xception (timm) and VGG16 themselves (VGG16 at 64 px: 138 M parameters but little compute), a
    # small stand-in for ResNet-50. Xception's layer is left to the per-architecture default (act4).
    del cfg["models"]["xception"]["cam_layers"]
    cfg["models"]["resnet50"]["architecture"] = "resnet18"
    run(tmp_path, cfg)
    results = tmp_path / "results"
    test = np.load(results / "data/pets/test.npz")
    assert test["images"].shape == (11, 64, 64, 3) and test["masks"].shape == (11, 64, 64)  # 4 breeds × 3, one missing
    # The Pet's class order (its class ids sort the breeds case-insensitively).
    assert list(test["class_names"]) == ["Abyssinian", "Chihuahua", "Egyptian Mau", "Scottish Terrier"]
    assert np.bincount(test["labels"]).tolist() == [3, 3, 2, 3]
    assert np.load(results / "data/pets/train.npz")["images"].shape[0] == 0
    table1 = pd.read_csv(results / "tables/s4_table1.csv")
    assert set(table1["model"]) == {"xception", "resnet50", "vgg16"}
    assert set(table1["layer"]) == {"act4", "layer4", "features.29"}
    # Like for like: the published values beside the Xception run only.
    xception = (table1["architecture"] == "timm/legacy_xception") & (table1["method"] == "gradcam")
    assert set(table1.loc[xception, "model"]) == {"xception"}
    assert (table1.loc[xception, "published"] == table1.loc[xception, "metric"].map(box_vs_mask_tables.PUBLISHED)).all()
    # Not beside the other networks, nor beside any baseline map (of Xception's too).
    assert table1.loc[~xception, "published"].isna().all()
    assert (~xception).sum() == (3 * 4 - 1) * len(box_vs_mask_tables.TABLE1)  # (models × (gradcam + 3 baselines)) − 1
    assert table1["corrected"].between(0, 1).all()
    assert not (results / "tables/classification.csv").exists()  # an ImageNet head has no pet-breed accuracy
    assert not (results / "figures/pets/resnet50/training.png").exists()
    for model in ("xception", "resnet50", "vgg16"):
        assert (results / f"figures/pets/{model}/box_vs_mask.png").stat().st_size > 1000
        meta = yaml.safe_load((results / f"models/pets/{model}.metrics.json").read_text())
        assert meta["explains"] == "imagenet" and len(meta["class_names"]) == 1000
    # The default layer reached the provenance: of the trained model's options, and of each CAM file.
    meta = yaml.safe_load((results / "models/pets/xception.metrics.json").read_text())
    assert meta["params"]["model"]["cam_layers"] == ["act4"] and meta["class_names"][0] == "tench"
    maps, provenance = io.load_npz(results / "cams/pets/xception/gradcam/none/0.npz")
    assert provenance["layers"] == ["act4"] and maps["act4"].shape == (11, 2, 2)  # stride 32 at 64 px
    logs_without_traceback(tmp_path)


@pytest.mark.full
def test_perturbation_robustness_tiny(tmp_path):
    # BreastMNIST only (DermaMNIST's job count would double the test's time); a 28 px file resized to 32 px.
    make_medmnist_npz(tmp_path / "data/raw/medmnist", "breastmnist", 28, {"train": 28, "val": 8, "test": 14})
    cfg = shrink(study("perturbation_robustness.yaml"))
    del cfg["datasets"]["dermamnist"]
    cfg["datasets"]["breastmnist"] |= {"download": False, "image_size": 32, "medmnist": {"flag": "breastmnist", "size": 28}}
    cfg["perturbations"] = {"gaussian_noise": [1, 3], "contrast": [2]}
    cfg["models"]["resnet18_augmented"]["train"]["augmentation"] = {"perturbations": ["gaussian_noise", "contrast"],
                                                                     "severities": [1]}
    cfg["studies"]["perturbation_robustness"]["images_per_class"] = 2
    run(tmp_path, cfg)
    results = tmp_path / "results"
    assert cfg["models"]["resnet18"]["cam_layers"] == ROBUSTNESS_LAYERS
    rmse = pd.read_csv(results / "tables/s2_rmse.csv")
    assert set(rmse["dataset"]) == {"breastmnist"} and set(rmse["model"]) == {"resnet18", "resnet18_augmented"}
    assert list(dict.fromkeys(rmse["layer"])) == ROBUSTNESS_LAYERS and (rmse["mean"] >= 0).all()
    classification = pd.read_csv(results / "tables/classification.csv")
    assert len(classification) == 2 * 4  # models × (clean + 3 conditions)
    area = pd.read_csv(results / "tables/s2_delta_auc_area.csv")
    assert set(area["perturbation"]) == {"gaussian_noise", "contrast"}
    assert (results / "figures/s2/breastmnist/augmentation.pdf").stat().st_size > 1000
    for name in ("layers", "by_severity", "by_layer"):
        assert (results / f"figures/s2/breastmnist/resnet18_augmented/{name}.png").stat().st_size > 1000
    assert not (results / "figures/breastmnist/resnet18/box_vs_mask.png").exists()  # no masks
    test = np.load(results / "data/breastmnist/test.npz")
    assert test["images"].shape == (14, 32, 32, 3) and "masks" not in test
    assert (test["images"][..., 0] == test["images"][..., 2]).all()  # grey, replicated
    cam = pd.read_csv(results / "tables/cam_metrics.csv")
    assert cam.loc[cam["metric"] == "le_box", "mean"].isna().all()
    assert cam.loc[cam["metric"] == "cam_rmse", "mean"].notna().all()
    score_log = (results / "logs/score_cams/breastmnist/resnet18/gradcam++.log").read_text()
    assert "have no ground-truth region: localisation metrics are NaN" in score_log
    log = (results / "logs/train_classifier/breastmnist/resnet18_augmented.log").read_text()
    assert "56 perturbed copies added to 28" in log  # 2 perturbations × 1 severity × 28 images
    logs_without_traceback(tmp_path)


@pytest.mark.full
def test_attention_training_tiny(tmp_path):
    raw = tmp_path / "data/raw"
    make_image_folder(raw / "chest_xray", ("NORMAL", "PNEUMONIA"), {"train": 8, "val": 2, "test": 4}, size=(48, 48),
                      masks=False)
    make_image_folder(raw / "lungs", ("cxr",), {"train": 8, "val": 2, "test": 4}, size=(48, 48),
                      masks_root=raw / "lungs_masks")
    fake_imagenet_weights(tmp_path, "resnet18")
    fake_timm_weights(tmp_path, "pvt_v2_b2_li")  # a hub id in timm's pretrained_cfg: the Hugging Face cache
    cfg = shrink(study("attention_training.yaml"))
    for dataset in cfg["datasets"].values():
        dataset["image_size"] = 64  # PVT-v2 wants sides divisible by 32: stages.3 is then 2×2
    models = cfg["models"]
    cfg["models"] = {name: models[name] | {"architecture": "resnet18", "cam_layers": ["layer4.1"]}
                     for name in ("resnet50_ce", "resnet50_adaptive")}
    cfg["models"]["resnet50_adaptive"]["train"]["attention"]["layer"] = "layer4.1"
    cfg["models"]["pvt_v2_b2_li_adaptive"] = models["pvt_v2_b2_li_adaptive"]  # the study's network itself
    cfg["segmenters"]["lungs_unet"] |= {"cams": {"methods": ["gradcam"], "images": 4, "examples": 2},
                                        "occlusion": {"images": 2, "fractions": [0.0, 0.5]}}
    run(tmp_path, cfg, "attention_training")
    results = tmp_path / "results"
    lambdas = pd.read_csv(results / "tables/s3_lambda.csv", dtype={"lambda": str})
    assert list(zip(lambdas["model"], lambdas["lambda"], strict=True)) == [
        ("pvt_v2_b2_li_adaptive", "adaptive"), ("resnet50_adaptive", "adaptive"), ("resnet50_ce", "1")]
    # The published numbers are PVT-v2-b2-li's: beside the PVT row only (like for like).
    assert list(lambdas["architecture"]) == ["timm/pvt_v2_b2_li", "resnet18", "resnet18"]
    assert lambdas["accuracy_published"].iloc[0] == 0.855 and lambdas["accuracy_published"].iloc[1:].isna().all()
    classifiers = pd.read_csv(results / "tables/classifiers.csv").set_index("model")
    assert lambdas.set_index("model")["youden"].to_dict() == pytest.approx(classifiers["youden"].to_dict(), nan_ok=True)
    for split in ("train", "val"):  # the attention regions: the U-Net's lungs on the X-rays
        regions = np.load(results / f"regions/chestxray/lungs_unet/{split}.npz")
        assert regions["union_boxes"].shape[1] == 4
    for model in ("resnet50_adaptive", "pvt_v2_b2_li_adaptive"):
        history = pd.read_csv(results / f"models/chestxray/{model}.history.csv")
        assert history["ce_weight"].iloc[0] == 1.0  # adaptive λ at epoch 0
    meta = yaml.safe_load((results / "models/chestxray/pvt_v2_b2_li_adaptive.metrics.json").read_text())
    assert meta["initialisation"] == "imagenet" and meta["class_names"] == ["NORMAL", "PNEUMONIA"]
    assert meta["params"]["model"]["train"]["attention"]["layer"] == "stages.3"
    logs_without_traceback(tmp_path)


@pytest.mark.full
def test_segmentation_ablation_tiny(tmp_path):
    raw = tmp_path / "data/raw/fruit"
    make_image_folder(raw / "images", ("fruit",), {"train": 10, "test": 4}, size=(40, 40), masks_root=raw / "masks")
    cfg = shrink(study("segmentation_ablation.yaml"))
    cfg["datasets"]["fruit"]["image_size"] = 32
    cfg["segmenters"]["unet"]["cams"] |= {"images": 4, "examples": 2}
    cfg["segmenters"]["unet"]["occlusion"] |= {"images": 2, "fractions": [0.0, 0.5]}
    run(tmp_path, cfg, "segmentation_ablation")
    results = tmp_path / "results"
    assert len(np.load(results / "data/fruit/val.npz")["ids"]) == 1  # carved from train: no val folder
    s1 = pd.read_csv(results / "tables/s1_segmentation_cams.csv")
    assert set(s1["method"]) == {"ablationcam", "gradcam", "scorecam"}
    assert set(s1["layer"]) == {"encoder1", "encoder2", "encoder3", "encoder4"}
    maps = np.load(results / "segmenters/unet/cams/ablationcam.npz")
    assert maps["encoder4"].shape == (4, 4, 4) and maps["encoder1"].shape == (4, 32, 32)
    for name in ("ablationcam", "occlusion"):
        assert (results / f"figures/s1/unet/{name}.png").stat().st_size > 1000
    assert not (results / "models").exists()  # the segmentation-ablation study trains no classifier
    logs_without_traceback(tmp_path)
