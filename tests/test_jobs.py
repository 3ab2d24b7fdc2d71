"""The shared loader of a workflow job's inputs reads only the job's rows."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from camsweep import io, jobs, regions, shards
from camsweep.data import save_split
from camsweep.models import classifiers
from camsweep.scripting import NamedList


@pytest.fixture()
def prepared(tmp_path, shapes_split):
    save_split(tmp_path / "test.npz", shapes_split)
    io.save_npz(tmp_path / "images.npz", {"images": 255 - shapes_split.images, "ids": shapes_split.ids})
    shards.save_plan(tmp_path / "plan.json", len(shapes_split), 5)
    spec = classifiers.ClassifierSpec(architecture="resnet18", num_classes=3, stem="compact")
    classifiers.save_checkpoint(tmp_path / "model.pt", classifiers.build(spec), spec, {})
    return tmp_path


def job(inputs, shard=None, **params):
    wildcards = {} if shard is None else {"shard": str(shard)}
    return SimpleNamespace(input=NamedList([], inputs), params=NamedList([], params),
                           wildcards=NamedList([], wildcards), threads=1)


def test_a_shard_job_gets_its_rows_images_and_model(prepared, shapes_split):
    inputs = {"split": str(prepared / "test.npz"), "images": str(prepared / "images.npz"),
              "model": str(prepared / "model.pt"), "plan": str(prepared / "plan.json")}
    loaded = jobs.load(job(inputs, shard=1, device="cpu"))
    assert loaded.rows == slice(5, 10)
    assert loaded.split.ids.tolist() == shapes_split.ids[5:10].tolist()
    assert np.array_equal(loaded.split.masks, shapes_split.masks[5:10])
    assert np.array_equal(loaded.split_ids, shapes_split.ids)
    images = loaded.images()
    assert type(images) is np.ndarray and images.flags.writeable
    assert np.array_equal(images, 255 - shapes_split.images[5:10])
    assert torch.equal(loaded.preprocessed(), classifiers.preprocess(images, loaded.spec))
    assert loaded.spec.architecture == "resnet18" and not loaded.model.training and loaded.device == torch.device("cpu")


def test_an_unsharded_job_gets_the_whole_split_and_whole_split_tables_are_cut(prepared, shapes_split):
    loaded = jobs.load(job({"split": str(prepared / "test.npz")}))
    assert loaded.rows == slice(None) and len(loaded.split) == len(shapes_split) and loaded.model is None
    frame = pd.DataFrame({"id": shapes_split.ids.astype(str), "prediction": np.arange(len(shapes_split))})
    frame.to_parquet(prepared / "predictions.parquet")
    plan = {"split": str(prepared / "test.npz"), "plan": str(prepared / "plan.json")}
    shard = jobs.load(job(plan, shard=2))
    assert shard.table(prepared / "predictions.parquet")["prediction"].tolist() == [10, 11]
    frame.iloc[::-1].to_parquet(prepared / "shuffled.parquet")
    with pytest.raises(ValueError, match="shuffled.parquet: image ids do not match the split's"):
        shard.table(prepared / "shuffled.parquet")


def test_regions_replace_the_ground_truth_of_the_job_rows(prepared, shapes_split):
    masks = np.roll(shapes_split.masks, 2, axis=1)
    io.save_npz(prepared / "regions.npz", {"masks": masks, "boxes": regions.boxes_from_masks(masks), "ids": shapes_split.ids})
    inputs = {"split": str(prepared / "test.npz"), "regions": str(prepared / "regions.npz"), "plan": str(prepared / "plan.json")}
    loaded = jobs.load(job(inputs, shard=0))
    assert np.array_equal(loaded.split.masks, masks[:5])
    assert np.array_equal(loaded.split.boxes, regions.boxes_from_masks(masks[:5]))
