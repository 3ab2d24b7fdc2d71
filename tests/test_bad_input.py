"""Bad input, end to end: every broken file, misfit mask, unknown label, missing checkpoint or misspelt key stops
the pipeline with a message naming the file or key at fault and the fix, before any compute is spent on it.

Readers are called directly (fast); one dry run shows the checkpoint check happens when the DAG is built, and one
pipeline run shows a corrupt image stops the first job that decodes images, with nothing left behind in results/.
"""

import copy
import logging
import re
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from fake_datasets import dataset_options, make_image_folder, make_manifest, make_oxford_pet_tree

from camsweep import config
from camsweep.data import raw, sources

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = config.load_schema(ROOT / "workflow/schemas/config.schema.yaml")
FIX = "replace it with an intact copy (re-download or re-extract it), or remove it from the dataset"


def folder_options(root, masks=None, classes=None, **extra):
    return dataset_options("folder", root, folder={"masks": None if masks is None else str(masks), "classes": classes}, **extra)


def error_of(call, *args, kind=ValueError) -> str:
    with pytest.raises(kind) as error:
        call(*args)
    return str(error.value)


def jpeg_bytes(shape=(40, 40), **params) -> bytes:
    image = np.random.default_rng(0).integers(0, 256, size=(*shape, 3)).astype(np.uint8)
    flags = [cv2.IMWRITE_JPEG_PROGRESSIVE, params.get("progressive", 0)]
    return cv2.imencode(".jpg", image, flags)[1].tobytes()


@pytest.fixture()
def pics(tmp_path):
    """A 2-class folder dataset of 40×40 PNGs: 3 train and 2 test images per class, masks under pics_masks/."""
    root = tmp_path / "pics"
    make_image_folder(root, ("cat", "dog"), {"train": 3, "test": 2})
    return root


# ----------------------------------------------------------------------------------------------- (a) corrupt files


def test_truncated_jpeg_is_detected_though_opencv_would_decode_it():
    intact = jpeg_bytes()
    for data in (intact, jpeg_bytes(progressive=1), intact + b"trailing bytes after EOI \xff\x00"):
        assert raw.jpeg_truncation(data) is None
    for cut in (20, len(intact) // 2, len(intact) - 2):
        assert "the data stops after" in raw.jpeg_truncation(intact[:cut])


def test_folder_names_every_unusable_image_at_once(pics):
    (pics / "train/dog/dog_1.png").write_bytes(np.random.default_rng(1).bytes(300))  # random bytes named .png
    (pics / "test/cat/cat_0.png").unlink()
    (pics / "test/cat/cat_0.jpg").write_bytes(jpeg_bytes()[:400])  # a JPEG cut short
    (pics / "train/cat/cat_2.png").write_bytes(b"")
    options = folder_options(pics, image_size=None)
    assert sources.fetch("pics", options)["files"] == 10  # locating the files does not decode them
    message = error_of(sources.prepare, "pics", options, 0)
    assert message.startswith("datasets.pics: 3 of 10 images cannot be used:")
    assert f"  - {pics}/train/dog/dog_1.png: not a readable image (corrupt or unsupported format)" in message
    assert f"  - {pics}/test/cat/cat_0.jpg: truncated JPEG (the data stops after 400 bytes" in message
    assert f"  - {pics}/train/cat/cat_2.png: empty file (0 bytes)" in message
    assert message.count(f"To fix: {FIX}") == 1


def test_one_bad_file_gives_its_own_message_and_the_fix(pics):
    (pics / "test/dog/dog_0.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    message = error_of(sources.prepare, "pics", folder_options(pics), 0)
    assert message == f"datasets.pics: {pics}/test/dog/dog_0.png: not a readable image (corrupt or unsupported format); {FIX}"


def test_corrupt_image_in_an_oxford_pet_tree(tmp_path):
    make_oxford_pet_tree(tmp_path, images_per_breed=2, breeds=("Abyssinian", "beagle"))
    image = tmp_path / "oxford-iiit-pet/images/beagle_2.jpg"
    image.write_bytes(image.read_bytes()[:300])
    options = dataset_options("oxford_pet", tmp_path, oxford_pet={"test": "all"})
    message = error_of(sources.prepare, "pets", options, 0)
    assert message.startswith(f"datasets.pets: {image}: truncated JPEG (the data stops after 300 bytes")
    assert message.endswith(FIX)


# ----------------------------------------------------------------------------------------------- (b) pixels and sizes


def test_grey_alpha_and_16_bit_images_are_converted_and_counted_in_the_log(pics, caplog):
    grey = cv2.imread(str(pics / "train/cat/cat_0.png"), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(pics / "train/cat/cat_0.png"), grey)
    bgra = cv2.cvtColor(cv2.imread(str(pics / "train/cat/cat_1.png")), cv2.COLOR_BGR2BGRA)
    cv2.imwrite(str(pics / "train/cat/cat_1.png"), bgra)
    deep = cv2.imread(str(pics / "test/dog/dog_0.png")).astype(np.uint16) * 257
    cv2.imwrite(str(pics / "test/dog/dog_0.png"), deep)
    with caplog.at_level(logging.INFO, logger="camsweep.data.raw"):
        splits = sources.prepare("pics", folder_options(pics, val_fraction=0.2), seed=0)
    everything = np.concatenate([splits[s].images for s in ("train", "val", "test")])
    assert everything.shape == (10, 40, 40, 3) and everything.dtype == np.uint8
    assert "1 of 10 images converted: grey replicated to RGB" in caplog.text
    assert "1 of 10 images converted: alpha channel dropped" in caplog.text
    assert "1 of 10 images converted: 16-bit scaled to 8-bit" in caplog.text
    test = splits["test"]
    np.testing.assert_array_equal(test.images[list(test.ids).index("test/dog/dog_0")], deep[:, :, ::-1] // 257)


def test_float_and_many_channel_images_are_refused(tmp_path):
    cv2.imwrite(str(tmp_path / "float.tiff"), np.zeros((40, 40), np.float32))
    message = error_of(raw.read_image, tmp_path / "float.tiff")
    assert message == (f"{tmp_path}/float.tiff: unsupported pixel type float32 (8- or 16-bit images only); "
                       "convert it to an 8- or 16-bit grey, RGB or RGBA PNG, or remove it from the dataset")
    with pytest.raises(raw.BadFile, match=r"unsupported image shape \(4, 4, 5\) \(grey, grey \+ alpha, RGB or RGBA only\)"):
        raw.to_rgb8(np.zeros((4, 4, 5), np.uint8), "five.tiff")


def test_mixed_sizes_are_refused_without_image_size_and_resized_with_it(pics, caplog):
    wide = np.zeros((40, 56, 3), np.uint8)
    cv2.imwrite(str(pics / "test/dog/dog_1.png"), wide)
    cv2.imwrite(str(pics / "train/dog/dog_2.png"), wide)
    message = error_of(sources.prepare, "pics", folder_options(pics, image_size=None), 0)
    assert re.search(r"datasets\.pics: .*/dog_\d\.png is 40x56 \(HxW\) but .*/cat_\d\.png is 40x40: images differ in size "
                     r"\(2 of 10 differ from the first; 2 sizes, most common 40x40\), so set image_size", message)
    assert "non-square images are stretched, not cropped" in message
    with caplog.at_level(logging.INFO, logger="camsweep.data.raw"):
        splits = sources.prepare("pics", folder_options(pics, image_size=32), seed=0)
    assert splits["test"].images.shape == (4, 32, 32, 3)
    assert "10 of 10 images converted: resized to 32x32" in caplog.text


# ----------------------------------------------------------------------------------------------- (c) masks


def test_misfit_masks_are_refused_with_the_fix(tmp_path):
    root, masks = tmp_path / "d", tmp_path / "m"
    make_image_folder(root, ("a", "b"), {"train": 2, "test": 1}, masks_root=masks)
    cv2.imwrite(str(masks / "train/a/a_1.png"), np.zeros((30, 40), np.uint8))
    jpeg_mask = cv2.imencode(".jpg", cv2.imread(str(masks / "test/b/b_0.png")))[1].tobytes()
    (masks / "test/b/b_0.png").write_bytes(jpeg_mask)  # a JPEG saved under the mask's .png name
    alpha_only = np.zeros((40, 40, 4), np.uint8)
    alpha_only[5:20, 5:20, 3] = 255  # drawn in the transparency channel, colour all black
    cv2.imwrite(str(masks / "test/a/a_0.png"), alpha_only)
    message = error_of(sources.prepare, "d", folder_options(root, masks=masks), 0)
    assert message.startswith("datasets.d: 3 of 6 images cannot be used:")
    assert f"  - mask {masks}/train/a/a_1.png is 30x40 but image {root}/train/a/a_1.png is 40x40 (HxW)" in message
    assert f"  - mask {masks}/test/b/b_0.png is JPEG-compressed: lossy compression leaves faint nonzero pixels" in message
    assert f"  - mask {masks}/test/a/a_0.png: its colour channels are all 0 and only its alpha" in message
    assert "To fix: check that the mask belongs to this image, or redraw it at 40x40" in message
    assert "To fix: save the mask losslessly (PNG) as one grey channel, 0 = background and nonzero = foreground" in message


def test_colour_and_multi_level_masks_are_read_as_nonzero_foreground(tmp_path):
    colour = np.zeros((40, 40, 3), np.uint8)
    colour[2:10, 3:9, 1] = 200  # green only
    colour[20:25, 20:30] = (0, 0, 90)  # red only
    cv2.imwrite(str(tmp_path / "colour.png"), colour)
    np.testing.assert_array_equal(raw.read_mask(tmp_path / "colour.png"), colour.any(axis=2))
    rgba = np.dstack([colour, np.full((40, 40), 255, np.uint8)])  # opaque RGBA: alpha ignored
    cv2.imwrite(str(tmp_path / "rgba.png"), rgba)
    np.testing.assert_array_equal(raw.read_mask(tmp_path / "rgba.png"), colour.any(axis=2))
    levels = np.array([[0, 1, 2], [255, 0, 7]], np.uint8)  # a label map or anti-aliased edge: nonzero = foreground
    cv2.imwrite(str(tmp_path / "levels.png"), levels)
    np.testing.assert_array_equal(raw.read_mask(tmp_path / "levels.png"), levels != 0)


def test_pet_trimap_with_other_codes_is_refused(tmp_path):
    binary = np.zeros((36, 48), np.uint8)
    binary[5:30, 5:40] = 255  # a 0/255 mask where a 1/2/3 trimap belongs: it would read as an empty mask
    make_oxford_pet_tree(tmp_path, images_per_breed=2, breeds=("Abyssinian",), trimaps={"Abyssinian_2": binary})
    message = error_of(sources.prepare, "pets", dataset_options("oxford_pet", tmp_path, oxford_pet={"test": "all"}), 0)
    trimap = tmp_path / "oxford-iiit-pet/annotations/trimaps/Abyssinian_2.png"
    assert message == (f"datasets.pets: trimap {trimap} holds values [0, 255] besides 1 (pet), 2 (background), 3 (border): "
                       "it is no Oxford-IIIT Pet trimap; re-extract annotations.tar.gz (annotations/trimaps/) from "
                       "https://www.robots.ox.ac.uk/~vgg/data/pets/")


# ----------------------------------------------------------------------------------------------- (d) labels


def test_class_folder_outside_the_class_list_fails_when_files_are_located(pics):
    (pics / "test/dog").rename(pics / "test/Dog")
    message = error_of(sources.fetch, "pics", folder_options(pics, classes=["cat", "dog"]))
    assert message == (f"datasets.pics.folder.classes: class folder {pics}/test/Dog is not in the class list ['cat', 'dog']; "
                       "did you mean 'dog'? (names are case-sensitive); add 'Dog' to datasets.pics.folder.classes, or "
                       f"move the folder out of {pics}/test")


def test_class_folder_without_known_image_files(pics, caplog):
    (pics / "train/bird").mkdir()
    (pics / "train/bird/b_0.webp").write_bytes(b"RIFF")
    message = error_of(sources.fetch, "pics", folder_options(pics))
    assert message == (f"datasets.pics: class folder {pics}/train/bird holds no image with a known extension "
                       "['.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff'] (found e.g. ['b_0.webp']); convert the files "
                       "to PNG or JPEG, or remove the folder")
    shutil.rmtree(pics / "train/bird")
    (pics / "train/cat/notes.txt").write_text("labelled by hand")
    with caplog.at_level(logging.WARNING, logger="camsweep.data.folders"):
        sources.fetch("pics", folder_options(pics))
    assert "datasets.pics: skipped 1 files that are not images" in caplog.text and "notes.txt" in caplog.text


def test_manifest_label_outside_the_class_list(tmp_path):
    rows = [{"path": "a.png", "label": "cat", "split": "train"}, {"path": "b.png", "label": "dgo", "split": "test"}]
    csv_path = make_manifest(tmp_path, rows)
    options = dataset_options("manifest", csv_path, manifest={"classes": ["cat", "dog"]})
    message = error_of(sources.fetch, "listed", options)
    assert message == (f"datasets.listed: {csv_path} line 3: label 'dgo' is not in the class list ['cat', 'dog'] "
                       "(datasets.listed.manifest.classes); did you mean 'dog'?; correct the label, or add it to "
                       "datasets.listed.manifest.classes")


# ----------------------------------------------------------------------------------------------- (e), (f) config


@pytest.fixture()
def tiny():
    return yaml.safe_load((ROOT / "tests/data/tiny.yaml").read_text())


def problems(cfg) -> str:
    return error_of(config.validate, cfg, SCHEMA, kind=config.ConfigError)


def test_missing_checkpoint_is_a_config_error(tiny, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tiny["models"]["r18"] |= {"checkpoint": "/no/such.pt", "stem": "standard", "last_stride": 2}
    assert ("models.r18.checkpoint: /no/such.pt does not exist; give the path of an existing checkpoint file "
            "(.pt / .pth, or TorchScript), or set checkpoint: null") in problems(copy.deepcopy(tiny))
    tiny["models"]["r18"]["checkpoint"] = "weights/r18.pt"
    assert (f"models.r18.checkpoint: weights/r18.pt does not exist (relative paths start from the working directory "
            f"{tmp_path})") in problems(copy.deepcopy(tiny))
    (tmp_path / "weights/r18.pt").mkdir(parents=True)
    assert "models.r18.checkpoint: weights/r18.pt is a folder" in problems(copy.deepcopy(tiny))
    (tmp_path / "weights/r18.pt").rmdir()
    (tmp_path / "weights/r18.pt").write_bytes(b"weights")
    config.validate(copy.deepcopy(tiny), SCHEMA)
    tiny["models"]["r18"]["checkpoint"] = "results/models/tiny/r18.pt"  # another rule's output: Snakemake's to check
    config.validate(tiny, SCHEMA)


def test_misspelt_keys_and_names_get_a_suggestion(tiny):
    tiny["perturbation"] = tiny.pop("perturbations")
    tiny["models"]["r18"]["train"]["epoch"] = 2
    tiny["cams"]["methods"].append("gradcampp")
    tiny["cams"]["layers"]["scorecm"] = tiny["cams"]["layers"].pop("scorecam")
    message = problems(copy.deepcopy(tiny))
    assert "(top level): 'perturbations' is a required property; found 'perturbation' instead: rename it to 'perturbations'" in message
    for line in (r"\(top level\): unknown key\(s\) \['perturbation'\]; valid keys: \[.*'perturbations'.*\]; "
                 r"did you mean 'perturbations'\?",
                 r"models\.r18\.train: unknown key\(s\) \['epoch'\]; valid keys: \['attention', .*\]; did you mean 'epochs'\?",
                 r"cams\.methods\.5: 'gradcampp' is not allowed; valid: \['gradcam', .*\]; did you mean .*'gradcam\+\+'\?",
                 r"cams\.layers: unknown key 'scorecm'; valid: \['gradcam', .*\]; did you mean 'scorecam'\?"):
        assert re.search(rf"^  - {line}$", message, re.M), line
    tiny = yaml.safe_load((ROOT / "tests/data/tiny.yaml").read_text())
    tiny["models"]["r18"]["architecture"] = "resnet19"
    assert "models.r18.architecture: unknown 'resnet19'; valid: [" in (message := problems(copy.deepcopy(tiny)))
    assert "did you mean 'resnet18'" in message
    tiny["models"]["r18"]["architecture"] = "resnet18"
    tiny["models"]["r18"]["cam_layers"] = ["layer3", "Layer4"]
    assert "models.r18.cam_layers: unknown layer(s) ['Layer4']; valid: [" in (message := problems(copy.deepcopy(tiny)))
    assert "did you mean 'layer4'" in message
    tiny["models"]["r18"]["cam_layers"] = ["layer3", "layer4"]
    tiny["datasets"]["pets"] = {"source": "oxford_pet", "root": "raw", "oxford_pet": {"breeds": ["Egyptian Mau"]}}
    message = problems(tiny)
    assert "datasets.pets.oxford_pet.breeds: unknown ['Egyptian Mau']; valid: [" in message
    assert "did you mean 'Egyptian_Mau'?" in message
    # The Pet's images always differ in size: without image_size it would fail only after decoding them all.
    assert ("datasets.pets.image_size: Oxford-IIIT Pet images differ in size (e.g. 500x375, 375x500), so null would "
            "fail once every image is decoded; set image_size (e.g. 224)") in message


def test_dry_run_names_the_checkpoint_key_before_any_job(tiny, tmp_path):
    tiny["models"]["r18"] |= {"checkpoint": "/no/such.pt", "stem": "standard", "last_stride": 2}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(tiny))
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(tmp_path),
         "--configfile", str(tmp_path / "bad.yaml"), "--cores", "1", "--dry-run"],
        capture_output=True, text=True, timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "models.r18.checkpoint: /no/such.pt does not exist" in output and "MissingInputException" not in output
    assert not (tmp_path / "results").exists()


# ----------------------------------------------------------------------------------------------- pipeline


PIPELINE_CONFIG = """\
seed: 0
datasets:
  pics: {source: folder, root: raw/pics, val_fraction: 0.2}
models:
  r18:
    architecture: resnet18
    stem: compact
    last_stride: 1
    cam_layers: [layer4]
    train: {epochs: 1, batch_size: 4, precision: float32}
perturbations: {contrast: [2]}
cams: {methods: [gradcam]}
segmenters: {}
shortcut: {enabled: false}
"""


@pytest.mark.pipeline
def test_pipeline_stops_at_dataset_preparation_on_a_corrupt_image(tmp_path):
    make_image_folder(tmp_path / "raw/pics", ("cat", "dog"), {"train": 3, "test": 2}, size=(32, 32), masks=False)
    broken = tmp_path / "raw/pics/train/dog/dog_1.png"
    intact = broken.read_bytes()
    broken.write_bytes(intact[:60])  # a PNG cut short
    (tmp_path / "bad.yaml").write_text(PIPELINE_CONFIG)

    def snakemake(*args):
        return subprocess.run(
            [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(tmp_path),
             "--configfile", str(tmp_path / "bad.yaml"), "--cores", "2", *args],
            capture_output=True, text=True, timeout=600,
        )

    result = snakemake()
    output = result.stdout + result.stderr
    message = "datasets.pics: raw/pics/train/dog/dog_1.png: not a readable image (corrupt or unsupported format); " + FIX
    assert result.returncode != 0 and message in output
    assert "Error in rule prepare_dataset" in output
    assert message in (tmp_path / "results/logs/prepare_dataset/pics.log").read_text()
    data = tmp_path / "results/data/pics"
    assert not list(data.glob("*.npz")) and not list(data.glob(".*.tmp"))  # nothing a rerun could take as done
    assert not (tmp_path / "results/models").exists() and "rule train_classifier:" not in output  # no training started
    # Once the file is fixed, a rerun prepares the dataset again (nothing was left that looked finished).
    broken.write_bytes(intact)
    planned = snakemake("--dry-run").stdout
    assert re.search(r"^prepare_dataset\s+1$", planned, re.M) and not re.search(r"^download_dataset\s+1$", planned, re.M)
