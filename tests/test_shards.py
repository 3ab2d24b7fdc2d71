"""Shards: plans worked out by hand, merges against whole-split artifacts, and a sharded pipeline run
whose per-image artifacts equal the unsharded run's."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from camsweep import io, shards

ROOT = Path(__file__).resolve().parents[1]


def test_ranges_cut_consecutive_runs_with_a_shorter_last_one():
    assert shards.ranges(12, 3) == [(0, 3), (3, 6), (6, 9), (9, 12)]
    assert shards.ranges(12, 5) == [(0, 5), (5, 10), (10, 12)]
    assert shards.ranges(2, 5) == [(0, 2)]
    assert shards.ranges(7, 1) == [(i, i + 1) for i in range(7)]


def test_ranges_refuse_empty_splits_and_shard_sizes():
    with pytest.raises(ValueError, match="shards.images must be at least 1"):
        shards.ranges(10, 0)
    with pytest.raises(ValueError, match="no images"):
        shards.ranges(0, 4)


def test_plan_round_trip_and_rows(tmp_path):
    path = tmp_path / "plan.json"
    shards.save_plan(path, 10, 4)
    assert shards.load_plan(path) == [(0, 4), (4, 8), (8, 10)]
    assert shards.rows(path, "2") == slice(8, 10)
    with pytest.raises(ValueError, match="shard 3 does not exist"):
        shards.rows(path, 3)
    (tmp_path / "other.json").write_text('{"ranges": []}')
    with pytest.raises(ValueError, match="other.json: not a shard plan"):
        shards.load_plan(tmp_path / "other.json")


def test_merged_archives_equal_the_whole_split(tmp_path, rng):
    whole = {"layer4": rng.random((10, 4, 4), dtype=np.float32), "ids": np.array([f"i{k}" for k in range(10)]),
             "targets": rng.integers(0, 3, 10)}
    paths = []
    for index, (start, stop) in enumerate(shards.ranges(10, 4)):
        path = tmp_path / f"{index}.npz"
        io.save_npz(path, {key: value[start:stop] for key, value in whole.items()},
                    io.provenance({"method": "gradcam", "shard": str(index)}))
        paths.append(path)
    merged, meta = shards.merge_npz(paths)
    assert list(merged) == list(whole)
    for key in whole:
        np.testing.assert_array_equal(merged[key], whole[key])
    assert meta["params"] == {"method": "gradcam"}  # the shard index is dropped


def test_shards_of_different_runs_are_refused(tmp_path):
    metas = [io.provenance({"method": "gradcam", "shard": "0"}), io.provenance({"method": "scorecam", "shard": "1"})]
    with pytest.raises(ValueError, match="b.npz: its parameters differ from a.npz"):
        shards.merged_provenance(metas, ["a.npz", "b.npz"])


def test_merged_frames_keep_the_layer_by_layer_order():
    # A whole-split job writes all images of layer3, then all of layer4; shards each do the same.
    def frame(ids):
        return pd.DataFrame({"id": ids * 2, "layer": ["layer3"] * len(ids) + ["layer4"] * len(ids),
                             "score": range(2 * len(ids))})

    merged = shards.merge_frames([frame(["a", "b"]), frame(["c"])])
    assert list(zip(merged["layer"], merged["id"], strict=True)) == [
        ("layer3", "a"), ("layer3", "b"), ("layer3", "c"), ("layer4", "a"), ("layer4", "b"), ("layer4", "c")]
    assert list(merged["score"]) == [0, 1, 0, 2, 3, 1]


def test_merged_sanity_frames_keep_the_variant_step_layer_order():
    # The randomisation test writes variant by variant, step by step, layer by layer.
    def frame(ids):
        groups = [(variant, step, layer) for variant in ("cascading", "independent") for step in (0, 1)
                  for layer in ("layer3", "layer4")]
        return pd.DataFrame([{"variant": v, "step": s, "layer": la, "id": i} for v, s, la in groups for i in ids])

    merged = shards.merge_frames([frame(["a", "b"]), frame(["c"])])
    pd.testing.assert_frame_equal(merged, frame(["a", "b", "c"]))


@pytest.mark.pipeline
@pytest.mark.full
def test_four_shards_give_the_unsharded_runs_artifacts(tiny_run, tmp_path):
    # The sharded run starts from the unsharded run's data, models and predictions (copied with their
    # times), so only the per-image stages and their merges run.
    for stage in ("data", "perturbed", "models", "predictions"):
        shutil.copytree(tiny_run / "results" / stage, tmp_path / "results" / stage)
    config = yaml.safe_load((ROOT / "tests/data/tiny.yaml").read_text())
    config["shards"] = {"images": 3}  # 12 test images: 4 shards
    (tmp_path / "sharded.yaml").write_text(yaml.safe_dump(config))
    per_condition = [f"{kind}/tiny/r18/{method}/gaussian_noise/3.{ext}" for method in ("gradcam", "ablationcam")
                     for kind, ext in (("cams", "npz"), ("metrics", "parquet"), ("metrics", "wsol.npz"))]
    per_method = ["faithfulness/tiny/r18/gradcam.parquet", "sanity/tiny/r18/ablationcam.parquet",
                  "sanity/tiny/r18/ablationcam.randomised.npz"]
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(tmp_path),
         "--configfile", str(tmp_path / "sharded.yaml"), "--cores", "2",
         *(f"results/{path}" for path in per_condition + per_method)],
        capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert shards.load_plan(tmp_path / "results/shards/plans/tiny.json") == [(0, 3), (3, 6), (6, 9), (9, 12)]
    assert len(list((tmp_path / "results/shards/cams/tiny/r18/gradcam/gaussian_noise/3").glob("*.npz"))) == 4
    for path in per_condition + per_method:
        sharded, whole = tmp_path / "results" / path, tiny_run / "results" / path
        if path.endswith(".npz"):
            merged, reference = np.load(sharded), np.load(whole)
            assert sorted(merged.files) == sorted(reference.files), path
            for key in reference.files:
                if key != io.PROVENANCE_KEY:
                    np.testing.assert_array_equal(merged[key], reference[key], err_msg=f"{path}: {key}")
        else:
            pd.testing.assert_frame_equal(pd.read_parquet(sharded), pd.read_parquet(whole), check_exact=True)
