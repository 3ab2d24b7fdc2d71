"""Real-dataset readers (camsweep.data.raw, oxford_pet, medmnist, folders, sources) on fake files in the real layouts."""

import urllib.error
from pathlib import Path

import cv2
import numpy as np
import pytest
from fake_datasets import (
    box_mask, dataset_options, make_image_folder, make_manifest, make_medmnist_npz, make_oxford_pet_tree,
)

from camsweep import regions
from camsweep.data import medmnist, oxford_pet, raw, sources
from camsweep.data.raw import DatasetUnavailable

BOX_VS_MASK_BREEDS = ["Abyssinian", "Egyptian_Mau", "chihuahua", "scottish_terrier"]


def no_network(*args, **kwargs):
    raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")


# ----------------------------------------------------------------------------------------------- shared pieces


def test_decoding_grey_16bit_alpha_and_corrupt_files(tmp_path):
    grey = np.array([[0, 10, 20], [30, 40, 255]], np.uint8)
    cv2.imwrite(str(tmp_path / "grey.png"), grey)
    np.testing.assert_array_equal(raw.read_image(tmp_path / "grey.png"), np.stack([grey] * 3, axis=2))
    deep = np.array([[0, 257, 65535], [514, 1000, 2570]], np.uint16)
    cv2.imwrite(str(tmp_path / "deep.png"), deep)
    # round(v / 257): 0, 1, 255, 2, round(3.891) = 4, 10
    np.testing.assert_array_equal(raw.read_image(tmp_path / "deep.png")[:, :, 0], [[0, 1, 255], [2, 4, 10]])
    bgra = np.zeros((2, 2, 4), np.uint8)
    bgra[..., 0], bgra[..., 1], bgra[..., 2], bgra[..., 3] = 200, 100, 50, 7  # blue, green, red, alpha
    cv2.imwrite(str(tmp_path / "alpha.png"), bgra)
    rgb = raw.read_image(tmp_path / "alpha.png")
    assert rgb.shape == (2, 2, 3) and rgb[0, 0].tolist() == [50, 100, 200]
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 this is not a JPEG")
    with pytest.raises(ValueError, match=r"broken\.jpg: not a readable image"):
        raw.read_image(tmp_path / "broken.jpg")
    with pytest.raises(ValueError, match=r"absent\.png: file does not exist"):
        raw.read_image(tmp_path / "absent.png")


def test_resizing_uses_area_when_shrinking_and_nearest_for_masks():
    image = np.arange(64 * 64 * 3, dtype=np.uint8).reshape(64, 64, 3)
    np.testing.assert_array_equal(raw.resize_image(image, 32), cv2.resize(image, (32, 32), interpolation=cv2.INTER_AREA))
    np.testing.assert_array_equal(raw.resize_image(image, 96), cv2.resize(image, (96, 96), interpolation=cv2.INTER_LINEAR))
    mask = np.array([[1, 0, 0], [0, 1, 1]], bool)
    np.testing.assert_array_equal(raw.resize_mask(mask, 6)[::3, ::2], [[1, 0, 0], [0, 1, 1]])  # 2 rows → 6, 3 cols → 6
    assert raw.resize_mask(mask, 6).dtype == bool


def test_val_carving_is_seeded_disjoint_and_independent_of_listing_order():
    ids = [f"img_{i}" for i in range(20)]
    train, val = raw.carve_val(ids, 0.25, seed=3, dataset="d")
    assert len(val) == 5 and len(train) == 15 and not set(train) & set(val)
    assert list(train) == sorted(train) and list(val) == sorted(val)
    shuffled = ids[::-1]
    _, val_again = raw.carve_val(shuffled, 0.25, seed=3, dataset="d")
    assert {shuffled[i] for i in val_again} == {ids[i] for i in val}
    others = [{ids[i] for i in raw.carve_val(ids, 0.25, seed=s, dataset="d")[1]} for s in range(4, 8)]
    assert any(o != {ids[i] for i in val} for o in others)
    with pytest.raises(ValueError, match="val_fraction"):
        raw.carve_val(ids[:1], 0.5, seed=0, dataset="d")


def test_dataset_unavailable_message_and_pickling(tmp_path):
    import pickle

    error = DatasetUnavailable("nothing here", tmp_path, "copy it", "root/\n└── a")
    assert str(error).splitlines() == ["nothing here", f"Searched: {tmp_path.resolve()}",
                                       "To place the files by hand: copy it", "Expected layout:", "root/", "└── a"]
    assert str(pickle.loads(pickle.dumps(error))) == str(error)


# ----------------------------------------------------------------------------------------------- Oxford-IIIT Pet


def test_trimap_to_mask_on_a_hand_made_trimap():
    trimap = np.array([[2, 2, 3, 3, 2],
                       [2, 3, 1, 1, 3],
                       [2, 3, 1, 2, 3],
                       [2, 2, 3, 3, 2]], np.uint8)
    expected = np.array([[0, 0, 1, 1, 0],
                         [0, 1, 1, 1, 1],
                         [0, 1, 1, 0, 1],
                         [0, 0, 1, 1, 0]], bool)
    np.testing.assert_array_equal(oxford_pet.trimap_to_mask(trimap), expected)


def pet_options(root, **pet):
    return dataset_options("oxford_pet", root, image_size=None, oxford_pet=pet)


def test_pet_labels_class_names_and_boxes(tmp_path):
    # Abyssinian_1: the pet spans rows 10-20, columns 5-30, and a lone border pixel at (row 25, column 40)
    # widens its box; Abyssinian_3's trimap is all background (an empty mask, box NO_BOX).
    hand = np.full((36, 48), 2, np.uint8)
    hand[10:21, 5:31] = 1
    hand[25, 40] = 3
    empty = np.full((36, 48), 2, np.uint8)
    truth = make_oxford_pet_tree(tmp_path, images_per_breed=4, breeds=(*BOX_VS_MASK_BREEDS, "beagle"),
                                 trimaps={"Abyssinian_1": hand, "Abyssinian_3": empty})
    options = pet_options(tmp_path, breeds=["scottish_terrier", "Abyssinian", "chihuahua", "Egyptian_Mau"], test="all")
    test = sources.prepare("pets", options, seed=0)["test"]
    assert test.class_names == ("Abyssinian", "Chihuahua", "Egyptian Mau", "Scottish Terrier")
    expected_label = {"Abyssinian": 0, "chihuahua": 1, "Egyptian_Mau": 2, "scottish_terrier": 3}
    assert [str(i) for i in test.ids] == [f"{b}_{n}" for b in expected_label for n in range(1, 5)]
    assert test.labels.tolist() == [expected_label[str(i).rsplit("_", 1)[0]] for i in test.ids]
    boxes = dict(zip(test.ids.tolist(), test.boxes.tolist(), strict=True))
    assert boxes["Abyssinian_1"] == [5, 10, 40, 25]
    assert boxes["Abyssinian_3"] == [-1, -1, -1, -1] and not test.masks[2].any()
    # The builder's rectangles: outer box (3 + k % 7, 2 + k % 5, W - 4 - k % 3, H - 3 - k % 4), k = 100·class + n.
    k = 12 * 100 + 2  # Egyptian_Mau (class 12) number 2
    assert boxes["Egyptian_Mau_2"] == [3 + k % 7, 2 + k % 5, 48 - 4 - k % 3, 36 - 3 - k % 4] == [8, 4, 42, 31]  # 1202 % 7 = 5, % 5 = 2, % 3 = 2, % 4 = 2
    for index, image_id in enumerate(test.ids.tolist()):
        np.testing.assert_array_equal(test.masks[index], truth[image_id]["mask"])


def test_box_vs_mask_subset_is_breeds_plus_numbers(tmp_path):
    make_oxford_pet_tree(tmp_path, images_per_breed=22, breeds=(*BOX_VS_MASK_BREEDS, "Bengal", "beagle"),
                         missing=("Egyptian_Mau_17", "Egyptian_Mau_20"))
    splits = sources.prepare("pets", pet_options(tmp_path, breeds=BOX_VS_MASK_BREEDS, numbers=[1, 20], test="all"), seed=0)
    expected = ([f"Abyssinian_{n}" for n in range(1, 21)] + [f"chihuahua_{n}" for n in range(1, 21)]
                + [f"Egyptian_Mau_{n}" for n in [*range(1, 17), 18, 19]] + [f"scottish_terrier_{n}" for n in range(1, 21)])
    assert splits["test"].ids.tolist() == expected and len(expected) == 78
    for split in ("train", "val"):
        empty = splits[split]
        assert empty.images.shape == (0, 36, 48, 3) and empty.masks.shape == (0, 36, 48) and empty.boxes.shape == (0, 4)
        assert empty.labels.shape == (0,) and empty.class_names == splits["test"].class_names


def test_pet_official_split_and_per_breed(tmp_path):
    make_oxford_pet_tree(tmp_path, images_per_breed=10, breeds=("Abyssinian", "beagle", "pug"))
    options = dataset_options("oxford_pet", tmp_path, image_size=32, val_fraction=0.25,
                              oxford_pet={"breeds": ["Abyssinian", "beagle"], "test": "official"})
    splits = sources.prepare("pets", options, seed=5)
    trainval = set(splits["train"].ids) | set(splits["val"].ids)
    assert trainval == {f"{b}_{n}" for b in ("Abyssinian", "beagle") for n in (1, 3, 5, 7, 9)}  # odd: trainval.txt
    assert len(splits["val"]) == 2 and not set(splits["train"].ids) & set(splits["val"].ids)  # round(0.25 · 10)
    assert set(splits["test"].ids) == {f"{b}_{n}" for b in ("Abyssinian", "beagle") for n in (2, 4, 6, 8, 10)}
    assert splits["test"].images.shape == (10, 32, 32, 3) and splits["test"].class_names == ("Abyssinian", "Beagle")
    again = sources.prepare("pets", options, seed=5)
    assert again["val"].ids.tolist() == splits["val"].ids.tolist()
    # per_breed: the first N by number, per list for official, over both lists for test: all
    official = sources.prepare("pets", {**options, "oxford_pet": {**options["oxford_pet"], "per_breed": 2}}, seed=5)
    assert official["test"].ids.tolist() == ["Abyssinian_2", "Abyssinian_4", "beagle_2", "beagle_4"]
    everything = {**options["oxford_pet"], "per_breed": 3, "test": "all"}
    assert sources.prepare("pets", {**options, "oxford_pet": everything}, seed=5)["test"].ids.tolist() == [
        "Abyssinian_1", "Abyssinian_2", "Abyssinian_3", "beagle_1", "beagle_2", "beagle_3"]


def test_pet_unknown_breed_and_mixed_sizes(tmp_path):
    make_oxford_pet_tree(tmp_path, images_per_breed=3, breeds=("Abyssinian", "beagle"), vary_size=True)
    with pytest.raises(ValueError, match=r"unknown breeds \['Egyptian Mau'\]; valid id prefixes: \['Abyssinian', 'beagle'\]"):
        sources.prepare("pets", pet_options(tmp_path, breeds=["Egyptian Mau"], test="all"), seed=0)
    with pytest.raises(ValueError, match=r"Abyssinian_2\.jpg is 36x48 \(HxW\) but .*Abyssinian_1\.jpg is 44x56: .*set image_size"):
        sources.prepare("pets", pet_options(tmp_path, test="all"), seed=0)


def test_pet_missing_files_and_failed_download(tmp_path, monkeypatch):
    root = tmp_path / "pets"
    with pytest.raises(DatasetUnavailable) as missing:
        sources.fetch("pets", pet_options(root))
    message = str(missing.value)
    assert "download is off" in message and str(root.resolve()) in message
    for part in ("oxford-iiit-pet/", "images/", "trainval.txt", "test.txt", "trimaps/", "annotations.tar.gz"):
        assert part in message
    import torchvision.datasets.oxford_iiit_pet as tv_pet

    monkeypatch.setattr(tv_pet, "download_and_extract_archive", no_network)
    with pytest.raises(DatasetUnavailable, match=r"download failed: URLError") as failed:
        sources.prepare("pets", {**pet_options(root), "download": True}, seed=0)
    assert "trimaps/" in str(failed.value) and isinstance(failed.value.__cause__, urllib.error.URLError)


def test_pet_fetch_counts_files(tmp_path):
    make_oxford_pet_tree(tmp_path, images_per_breed=2, breeds=("Abyssinian",))
    files = sorted(p for p in (tmp_path / "oxford-iiit-pet").rglob("*") if p.is_file())
    record = sources.fetch("pets", pet_options(tmp_path))
    assert record == {"dataset": "pets", "source": "oxford_pet", "root": str(tmp_path), "files": 2 + 2 + 2,
                      "bytes": sum(p.stat().st_size for p in files)}


# ----------------------------------------------------------------------------------------------- MedMNIST


def med_options(root, flag="breastmnist", size=64, image_size=None, **extra):
    return dataset_options("medmnist", root, image_size=image_size, medmnist={"flag": flag, "size": size}, **extra)


def test_medmnist_grey_splits_labels_ids(tmp_path):
    arrays = make_medmnist_npz(tmp_path, "breastmnist", 64, {"train": 6, "val": 3, "test": 4})
    assert (tmp_path / "breastmnist_64.npz").is_file()
    splits = sources.prepare("breast", med_options(tmp_path), seed=0)
    train = splits["train"]
    assert train.images.shape == (6, 64, 64, 3) and train.masks is None and train.boxes is None
    for channel in range(3):
        np.testing.assert_array_equal(train.images[..., channel], arrays["train_images"])
    assert train.labels.tolist() == [0, 1, 0, 1, 0, 1] and train.class_names == ("malignant", "normal, benign")
    assert splits["val"].ids.tolist() == ["breastmnist_val_00000", "breastmnist_val_00001", "breastmnist_val_00002"]
    assert len(splits["test"]) == 4
    resized = sources.prepare("breast", med_options(tmp_path, image_size=32), seed=0)["test"]
    expected = cv2.resize(arrays["test_images"][1], (32, 32), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(resized.images[1, :, :, 2], expected)


def test_medmnist_colour_is_kept_in_rgb_order_and_28px_needs_resizing(tmp_path):
    arrays = make_medmnist_npz(tmp_path, "bloodmnist", 28, {"train": 3, "val": 2, "test": 2})
    with pytest.raises(ValueError, match=r"at least 32 px.*image_size: 32.*medmnist.size: 64"):
        sources.prepare("blood", med_options(tmp_path, "bloodmnist", 28), seed=0)
    with pytest.raises(ValueError, match="image_size: 32"):
        sources.prepare("blood", med_options(tmp_path, "bloodmnist", 28, image_size=16), seed=0)
    test = sources.prepare("blood", med_options(tmp_path, "bloodmnist", 28, image_size=32), seed=0)["test"]
    expected = cv2.resize(arrays["test_images"][0], (32, 32), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(test.images[0], expected)  # no BGR swap: the package stores RGB
    assert len(test.class_names) == 8 and test.labels.tolist() == [0, 1]


def test_medmnist_rejects_multilabel_unknown_flags_and_reports_missing_files(tmp_path, monkeypatch):
    make_medmnist_npz(tmp_path, "chestmnist", 64, {"train": 2, "val": 2, "test": 2})
    with pytest.raises(ValueError, match="multi-label, binary-class task; only one label per image"):
        sources.prepare("chest", med_options(tmp_path, "chestmnist"), seed=0)
    with pytest.raises(ValueError, match=r"organmnist3d.*valid 2-D flags: \['bloodmnist', 'breastmnist'") as unknown:
        sources.prepare("organ", med_options(tmp_path, "organmnist3d"), seed=0)
    assert "3d" not in str(unknown.value).split("valid 2-D flags")[1]
    root = tmp_path / "none"
    with pytest.raises(DatasetUnavailable, match="download is off") as missing:
        sources.fetch("breast", med_options(root))
    assert f"{root}/\n└── breastmnist_64.npz" in str(missing.value)
    import torchvision.datasets.utils as tv_utils

    monkeypatch.setattr(tv_utils, "download_url", no_network)
    with pytest.raises(DatasetUnavailable, match="Automatic download failed") as failed:
        sources.fetch("breast", med_options(root, download=True))
    assert f"{root}/\n└── breastmnist_64.npz" in str(failed.value) and "zenodo.org" in str(failed.value)


# ----------------------------------------------------------------------------------------------- folder


def folder_options(root, masks=None, classes=None, **extra):
    return dataset_options("folder", root, folder={"masks": None if masks is None else str(masks), "classes": classes}, **extra)


def test_folder_with_masks_carves_val_and_resizes_masks_nearest(tmp_path):
    root = tmp_path / "xray"
    truth = make_image_folder(root, ("PNEUMONIA", "NORMAL"), {"train": 5, "test": 2})
    options = folder_options(root, masks=tmp_path / "xray_masks", image_size=None, val_fraction=0.2)
    splits = sources.prepare("xray", options, seed=1)
    assert splits["train"].class_names == ("NORMAL", "PNEUMONIA")  # sorted train folder names
    assert len(splits["train"]) == 8 and len(splits["val"]) == 2 and len(splits["test"]) == 4
    train_ids = set(splits["train"].ids) | set(splits["val"].ids)
    assert train_ids == {i for i in truth if i.startswith("train/")} and not set(splits["train"].ids) & set(splits["val"].ids)
    assert sources.prepare("xray", options, seed=1)["val"].ids.tolist() == splits["val"].ids.tolist()
    test = splits["test"]
    assert test.ids.tolist() == ["test/NORMAL/NORMAL_0", "test/NORMAL/NORMAL_1", "test/PNEUMONIA/PNEUMONIA_0",
                                 "test/PNEUMONIA/PNEUMONIA_1"]
    assert test.labels.tolist() == [0, 0, 1, 1]
    for index, image_id in enumerate(test.ids.tolist()):
        np.testing.assert_array_equal(test.images[index], truth[image_id]["image"])  # PNG: lossless
        np.testing.assert_array_equal(test.masks[index], truth[image_id]["mask"])
    np.testing.assert_array_equal(test.boxes, regions.boxes_from_masks(test.masks))
    # 40 → 80 px: nearest turns every mask pixel into a 2×2 block.
    big = sources.prepare("xray", {**options, "image_size": 80}, seed=1)["test"]
    mask = truth["test/NORMAL/NORMAL_1"]["mask"]
    np.testing.assert_array_equal(big.masks[1], mask.repeat(2, axis=0).repeat(2, axis=1))
    x_min, y_min, x_max, y_max = regions.box_from_mask(mask).tolist()
    assert big.boxes[1].tolist() == [2 * x_min, 2 * y_min, 2 * x_max + 1, 2 * y_max + 1]


def test_folder_class_order_val_folder_and_extensions(tmp_path):
    root = tmp_path / "imgs"
    make_image_folder(root, ("cat", "dog"), {"train": 3, "val": 1, "test": 1}, masks=False, ext=".JPG")
    splits = sources.prepare("imgs", folder_options(root, classes=["dog", "cat"], image_size=32), seed=0)
    assert splits["val"].ids.tolist() == ["val/cat/cat_0", "val/dog/dog_0"]  # path order; labels follow `classes`
    labels = dict(zip(splits["val"].ids.tolist(), splits["val"].labels.tolist(), strict=True))
    assert labels == {"val/cat/cat_0": 1, "val/dog/dog_0": 0} and splits["val"].class_names == ("dog", "cat")
    assert len(splits["train"]) == 6 and splits["train"].masks is None
    (root / "test" / "bird").mkdir()
    cv2.imwrite(str(root / "test" / "bird" / "b.png"), np.zeros((40, 40), np.uint8))
    with pytest.raises(ValueError, match=r"class folder .*test/bird is not in the class list \['dog', 'cat'\]"):
        sources.prepare("imgs", folder_options(root, classes=["dog", "cat"]), seed=0)


def test_folder_missing_and_misshapen_masks(tmp_path):
    root, masks = tmp_path / "d", tmp_path / "m"
    make_image_folder(root, ("a", "b"), {"train": 2, "test": 1}, masks_root=masks)
    (masks / "test" / "b" / "b_0.png").unlink()
    with pytest.raises(ValueError, match=r"mask file .*m/test/b/b_0\.png for image .*d/test/b/b_0\.png does not exist"):
        sources.prepare("d", folder_options(root, masks=masks), seed=0)
    cv2.imwrite(str(masks / "test" / "b" / "b_0.png"), np.zeros((40, 41), np.uint8))
    with pytest.raises(ValueError, match=r"mask .*m/test/b/b_0\.png is 40x41 but image .*d/test/b/b_0\.png is 40x40"):
        sources.prepare("d", folder_options(root, masks=masks), seed=0)


def test_folder_fetch_and_missing_root(tmp_path):
    root = tmp_path / "d"
    make_image_folder(root, ("a", "b"), {"train": 2, "test": 1})
    files = [p for p in [*root.rglob("*.png"), *(tmp_path / "d_masks").rglob("*.png")]]
    record = sources.fetch("d", folder_options(root, masks=tmp_path / "d_masks"))
    assert record["files"] == 12 == len(files) and record["bytes"] == sum(p.stat().st_size for p in files)
    with pytest.raises(DatasetUnavailable, match="no .*/nowhere/train/") as missing:
        sources.fetch("d", folder_options(tmp_path / "nowhere"))
    assert "├── train/" in str(missing.value) and "val/" in str(missing.value)


# ----------------------------------------------------------------------------------------------- manifest


def test_manifest_paths_boxes_and_masks(tmp_path, monkeypatch):
    data = tmp_path / "data"
    mask = box_mask((40, 40), "m")
    rows = [
        {"path": "images/a/one.png", "label": "cat", "split": "train"},
        {"path": "images/two.png", "label": "dog", "split": "train"},
        {"path": "images/three.png", "label": "dog", "split": "train"},
        {"path": "images/four.png", "label": "cat", "split": "test", "box": (3, 5, 10, 20)},
        {"path": "images/five.png", "label": "dog", "split": "test", "mask": mask,
         "box": tuple(regions.box_from_mask(mask).tolist())},
    ]
    csv_path = make_manifest(data, rows)
    monkeypatch.chdir(tmp_path)  # paths resolve against the CSV's folder, not the working directory
    splits = sources.prepare("listed", dataset_options("manifest", csv_path, image_size=None, val_fraction=0.34), seed=0)
    assert splits["test"].class_names == ("cat", "dog") and splits["train"].masks is None
    assert set(splits["train"].ids) | set(splits["val"].ids) == {"images/a/one", "images/two", "images/three"}
    assert len(splits["val"]) == 1
    test = splits["test"]
    assert test.ids.tolist() == ["images/four", "images/five"] and test.labels.tolist() == [0, 1]
    np.testing.assert_array_equal(test.masks[0], regions.box_to_mask(np.array([3, 5, 10, 20]), (40, 40)))
    assert test.boxes[0].tolist() == [3, 5, 10, 20]
    np.testing.assert_array_equal(test.masks[1], mask)
    np.testing.assert_array_equal(test.images[1], rows[4]["image"])


def test_manifest_errors_name_the_line(tmp_path):
    rows = [{"path": "x.png", "label": "cat", "split": "train"}, {"path": "y.png", "label": "cow", "split": "test"},
            {"path": "w.png", "label": "dog", "split": "train"}]
    csv_path = make_manifest(tmp_path, rows)
    options = dataset_options("manifest", csv_path, image_size=None, val_fraction=0.5, manifest={"classes": ["cat", "dog"]})
    with pytest.raises(ValueError, match=r"list\.csv line 3: label 'cow' is not in the class list \['cat', 'dog'\]"):
        sources.prepare("l", options, seed=0)
    rows[1].update(label="dog", split="holdout")
    make_manifest(tmp_path, rows)
    with pytest.raises(ValueError, match=r"line 3: split 'holdout' is not one of \['train', 'val', 'test'\]"):
        sources.prepare("l", options, seed=0)
    mask = np.zeros((40, 40), bool)
    mask[4:9, 6:12] = True
    rows[1].update(split="test", mask=mask, box=(6, 4, 11, 9))  # the tight box is (6, 4, 11, 8)
    make_manifest(tmp_path, rows)
    with pytest.raises(ValueError, match=r"line 3: box \[6, 4, 11, 9\] is not the tight box \[6, 4, 11, 8\] of mask"):
        sources.prepare("l", options, seed=0)


def test_manifest_corrupt_image_and_missing_files(tmp_path):
    rows = [{"path": "x.png", "label": "cat", "split": "train"}, {"path": "y.png", "label": "cat", "split": "train"},
            {"path": "z.png", "label": "dog", "split": "test"}]
    csv_path = make_manifest(tmp_path, rows)
    (tmp_path / "z.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    options = dataset_options("manifest", csv_path, image_size=32, val_fraction=0.5)
    with pytest.raises(ValueError, match=r"z\.png: not a readable image \(corrupt or unsupported format\)"):
        sources.prepare("l", options, seed=0)
    (tmp_path / "z.png").unlink()
    with pytest.raises(DatasetUnavailable, match=r"list\.csv line 4: file .*z\.png does not exist"):
        sources.fetch("l", options)
    with pytest.raises(DatasetUnavailable, match="manifest CSV .*nothing.csv does not exist") as missing:
        sources.fetch("l", dataset_options("manifest", Path(tmp_path) / "nothing.csv"))
    assert "path,label,split[,mask][,x_min,y_min,x_max,y_max]" in str(missing.value)


def test_unknown_source_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="'synthetic' is not a real-data source"):
        sources.prepare("shapes", dataset_options("synthetic", tmp_path), seed=0)
    assert set(sources.SOURCES) == {"oxford_pet", "medmnist", "folder", "manifest"}
    assert medmnist.file_name("breastmnist", 28) == "breastmnist.npz"
    with pytest.raises(ValueError, match=r"datasets.pets.root: source oxford_pet needs"):
        sources.fetch("pets", {**dataset_options("oxford_pet", tmp_path), "root": None})
