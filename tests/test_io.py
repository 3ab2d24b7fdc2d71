import os

import numpy as np
import pandas as pd
import pytest

from camsweep import io
from camsweep.data import ImageSet, load_split, save_split


def test_npz_is_byte_reproducible_and_keeps_provenance(tmp_path):
    arrays = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "ids": np.array(["x", "y"])}
    io.save_npz(tmp_path / "one.npz", arrays, {"seed": 1})
    os.utime(tmp_path / "one.npz", (0, 0))
    io.save_npz(tmp_path / "two.npz", arrays, {"seed": 1})
    assert (tmp_path / "one.npz").read_bytes() == (tmp_path / "two.npz").read_bytes()
    loaded, meta = io.load_npz(tmp_path / "one.npz")
    assert meta == {"seed": 1}
    np.testing.assert_array_equal(loaded["a"], arrays["a"])
    assert loaded["ids"].tolist() == ["x", "y"]


def test_failed_write_leaves_nothing_behind(tmp_path):
    target = tmp_path / "out.csv"
    with pytest.raises(RuntimeError):
        with io.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_unreadable_archive_names_the_file(tmp_path):
    path = tmp_path / "broken.npz"
    path.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="broken.npz: not a readable .npz"):
        io.load_npz(path)


def test_parquet_provenance_round_trip(tmp_path):
    io.save_parquet(tmp_path / "t.parquet", pd.DataFrame({"x": [1, 2]}), {"k": "v"})
    assert io.load_parquet_meta(tmp_path / "t.parquet") == {"k": "v"}


def make_split(**changes):
    masks = np.zeros((2, 32, 32), bool)
    masks[0, 3:5, 4:9] = True
    masks[1, 10, 10] = True
    fields = dict(
        images=np.zeros((2, 32, 32, 3), np.uint8), labels=np.array([0, 1]), ids=np.array(["a", "b"]),
        class_names=("cat", "dog"), masks=masks, boxes=np.array([[4, 3, 8, 4], [10, 10, 10, 10]], np.int32),
    )
    fields.update(changes)
    return ImageSet(**fields)


def test_split_round_trip(tmp_path):
    split = make_split()
    save_split(tmp_path / "s.npz", split)
    loaded = load_split(tmp_path / "s.npz")
    assert loaded.class_names == ("cat", "dog") and loaded.ids.tolist() == ["a", "b"]
    np.testing.assert_array_equal(loaded.boxes, split.boxes)


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"labels": np.array([0, 2])}, r"label 2 is outside the class list \['cat', 'dog'\]"),
        ({"masks": np.zeros((2, 16, 16), bool)}, "masks must be bool"),
        ({"boxes": np.array([[4, 3, 8, 4], [0, 0, 1, 1]], np.int32)}, "box of image b is"),
        ({"images": np.zeros((2, 32, 32), np.uint8)}, "images must be uint8"),
        ({"ids": np.array(["a", "a"])}, "not unique"),
    ],
)
def test_inconsistent_splits_are_rejected(changes, message):
    with pytest.raises(ValueError, match=message):
        make_split(**changes)


def test_loading_an_inconsistent_file_names_it(tmp_path):
    path = tmp_path / "bad.npz"
    io.save_npz(path, {"images": np.zeros((1, 32, 32, 3), np.uint8), "labels": np.array([5]),
                       "ids": np.array(["a"]), "class_names": np.array(["x", "y"])})
    with pytest.raises(ValueError, match="bad.npz: label 5 is outside"):
        load_split(path)


def test_images_of_other_images_are_rejected(tmp_path):
    from camsweep.data import load_images

    split = make_split()
    io.save_npz(tmp_path / "ok.npz", {"images": split.images, "ids": split.ids})
    assert load_images(tmp_path / "ok.npz", split).shape == (2, 32, 32, 3)
    io.save_npz(tmp_path / "other.npz", {"images": split.images, "ids": np.array(["b", "a"])})
    with pytest.raises(ValueError, match="other.npz: image ids do not match the split's"):
        load_images(tmp_path / "other.npz", split)


def test_memory_mapped_members_equal_np_load(tmp_path, shapes_split):
    save_split(tmp_path / "s.npz", shapes_split, {"note": "x"})
    io.save_npz(tmp_path / "odd.npz", {"fortran": np.asfortranarray(np.arange(12.0).reshape(3, 4)),
                                      "scalar": np.float32(2.5), "empty": np.zeros((0, 3))})
    for name in ("s.npz", "odd.npz"):
        read, meta = io.load_npz(tmp_path / name)
        mapped, mapped_meta = io.load_npz(tmp_path / name, mmap=True)
        assert mapped_meta == meta and list(mapped) == list(read)
        for key, array in read.items():
            assert mapped[key].dtype == array.dtype and np.array_equal(mapped[key], array), key
    mapped, _ = io.load_npz(tmp_path / "s.npz", mmap=True)
    assert isinstance(mapped["images"], np.memmap) and not mapped["images"].flags.writeable


def test_compressed_members_are_read_instead_of_mapped(tmp_path):
    np.savez_compressed(tmp_path / "c.npz", values=np.arange(10))
    mapped, meta = io.load_npz(tmp_path / "c.npz", mmap=True)
    assert meta == {} and not isinstance(mapped["values"], np.memmap)
    assert np.array_equal(mapped["values"], np.arange(10))


def test_split_and_images_rows_are_read_alone(tmp_path, shapes_split):
    from camsweep.data import load_ids, load_images

    save_split(tmp_path / "s.npz", shapes_split)
    io.save_npz(tmp_path / "images.npz", {"images": shapes_split.images[::-1].copy(), "ids": shapes_split.ids})
    part = load_split(tmp_path / "s.npz", slice(3, 7))
    expected = shapes_split.subset(np.arange(3, 7))
    for field in ("images", "labels", "ids", "masks", "boxes"):
        assert np.array_equal(getattr(part, field), getattr(expected, field)), field
    assert part.class_names == expected.class_names and part.meta == load_split(tmp_path / "s.npz").meta
    assert all(type(a) is np.ndarray and a.flags.writeable for a in (part.images, part.masks, part.ids))
    assert np.array_equal(load_ids(tmp_path / "s.npz"), shapes_split.ids)
    rows = load_images(tmp_path / "images.npz", shapes_split.ids, slice(3, 7))
    assert type(rows) is np.ndarray and np.array_equal(rows, shapes_split.images[::-1][3:7])
    with pytest.raises(ValueError, match="image ids do not match"):  # ids are checked against the whole split
        load_images(tmp_path / "images.npz", shapes_split.ids[::-1], slice(3, 7))
