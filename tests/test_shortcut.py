"""The shortcut demonstration over training seeds: the seed derivation, the per-seed and the across-seed tables
(t-interval by hand), the config key, the workflow's plan with two seeds, and the table and figure scripts on
small fake inputs."""

import copy
import re
import runpy
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml

from camsweep import config, io, seeding, stats
from camsweep.data import ImageSet, save_split
from camsweep.predictions import predictions_frame
from camsweep.scripting import NamedList
from camsweep.studies.attention_training import (
    SHORTCUT_MARKERS,
    SHORTCUT_TRAININGS,
    shortcut,
    shortcut_seed,
    shortcut_seed_dir,
    shortcut_seed_index,
)

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "workflow" / "scripts"
SETTINGS = stats.BootstrapSettings(30, 0.95)  # few resamples: these tests check the bookkeeping


def test_t_interval_by_hand():
    # 0.70, 0.74, 0.78: mean 0.74, s = 0.04, s/√3 = 0.0230940; t(0.975, 2 df) = 4.3026527
    # → half-width 0.0993655, interval [0.6406345, 0.8393655].
    mean, low, high, n = stats.t_interval(np.array([0.70, 0.74, np.nan, 0.78]), 0.95)
    assert (mean, low, high, n) == pytest.approx((0.74, 0.6406345, 0.8393655, 3), abs=1e-7)
    # 90 %: t(0.95, 2 df) = 2.9199856 → half-width 0.0674342
    assert stats.t_interval(np.array([0.70, 0.74, 0.78]), 0.90)[1:3] == pytest.approx((0.6725658, 0.8074342), abs=1e-7)
    assert stats.t_interval(np.array([0.5, 0.5]), 0.95)[:3] == (0.5, 0.5, 0.5)
    one = stats.t_interval(np.array([0.3, np.nan]), 0.95)
    assert one[0] == 0.3 and np.isnan(one[1:3]).all() and one[3] == 1


def test_seed_derivation_and_paths():
    assert shortcut_seed(3, 0) == 3  # one seed trains the run's own models
    seeds = [shortcut_seed(3, index) for index in range(4)]
    assert len(set(seeds)) == 4 and seeds == [shortcut_seed(3, index) for index in range(4)]
    assert seeds[2] == seeding.int_seed(3, "shortcut", 2)
    assert shortcut_seed(4, 1) != seeds[1]  # another run seed, other models
    with pytest.raises(ValueError, match="seed index"):
        shortcut_seed(3, -1)
    assert [shortcut_seed_dir(index) for index in (0, 1, 12)] == ["", "seed1/", "seed12/"]
    assert [shortcut_seed_index(shortcut_seed_dir(index)) for index in (0, 1, 12)] == [0, 1, 12]


def test_seeds_config_key():
    schema = config.load_schema(ROOT / "workflow/schemas/config.schema.yaml")
    default = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    assert config.validate(copy.deepcopy(default), schema)["shortcut"]["seeds"] == 1
    del default["shortcut"]["seeds"]
    assert config.validate(copy.deepcopy(default), schema)["shortcut"]["seeds"] == 1  # the schema's default
    for bad in (0, 1.5, "2", [1, 2]):
        default["shortcut"]["seeds"] = bad
        with pytest.raises(config.ConfigError, match="shortcut.seeds"):
            config.validate(copy.deepcopy(default), schema)


def _evaluation(rng, n=24):
    """A fake evaluate_shortcut frame: three classes, each marker's predictions and map scores."""
    frames = []
    labels = np.repeat(np.arange(3), n // 3)
    for marker in SHORTCUT_MARKERS:
        predictions = np.where(rng.random(n) < 0.7, labels, rng.integers(0, 3, n))
        probs = rng.random((n, 3)) * 0.4
        probs[np.arange(n), predictions] = 1.0
        frame = predictions_frame(np.array([f"im{i}" for i in range(n)]), labels, probs / probs.sum(1, keepdims=True))
        for column in shortcut.SHORTCUT_MAP_COLUMNS:
            frame[column] = rng.random(n)
        frame.insert(0, "marker", marker)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _keys(training, index):
    return {"dataset": "d", "model": "m", "training": training, "seed_index": index, "seed": shortcut_seed(5, index)}


def test_tables_per_seed_and_over_seeds(rng):
    evaluations = {(t, i): _evaluation(rng) for t in SHORTCUT_TRAININGS for i in range(3)}
    frame = pd.concat([f.assign(**_keys(t, i)) for (t, i), f in evaluations.items()], ignore_index=True)
    per_seed = shortcut.shortcut_seed_table(frame, SETTINGS, 0)
    assert list(zip(per_seed["training"], per_seed["marker"], per_seed["seed_index"], strict=True)) == [
        (t, m, i) for t in SHORTCUT_TRAININGS for m in SHORTCUT_MARKERS for i in range(3)]
    assert per_seed["seed"].tolist() == [shortcut_seed(5, i) for _ in range(6) for i in range(3)]
    ce_absent = per_seed[(per_seed["training"] == "ce") & (per_seed["marker"] == "absent")]
    for index, row in zip(range(3), ce_absent.to_dict("records"), strict=True):
        scores = evaluations["ce", index].query("marker == 'absent'")
        assert row["accuracy"] == pytest.approx(scores["correct"].mean())
        assert row["hard_ratio"] == pytest.approx(scores["hard_ratio"].mean())
    # Seed index 0's rows are what a one-seed run's table holds: their resamples do not depend on the other seeds.
    only_first = frame[frame["seed_index"] == 0]
    one_seed = shortcut.shortcut_seed_table(only_first, SETTINGS, 0)
    pd.testing.assert_frame_equal(one_seed, per_seed[per_seed["seed_index"] == 0].reset_index(drop=True))

    table = shortcut.shortcut_table(per_seed, 0.95)
    assert len(table) == 6 and (table["seeds"] == 3).all() and (table["ci_over"] == "seeds").all()
    assert (table["n"] == 24).all()
    row = table[(table["training"] == "ce") & (table["marker"] == "absent")].iloc[0]
    for metric in ("accuracy", "discriminant_power", "energy_pg_mask"):
        values = ce_absent[metric].to_numpy()
        # by hand: mean ± t(0.975, 2)·s/√3
        half = 4.302652729749462 * values.std(ddof=1) / np.sqrt(3)
        assert (row[metric], row[f"{metric}_low"], row[f"{metric}_high"]) == pytest.approx(
            (values.mean(), values.mean() - half, values.mean() + half))

    # One seed: the per-seed rows themselves, with their image-bootstrap intervals.
    single = shortcut.shortcut_table(one_seed, 0.95)
    assert (single["seeds"] == 1).all() and (single["ci_over"] == "images").all()
    pd.testing.assert_frame_equal(single.drop(columns=["seeds", "ci_over"]), one_seed.drop(columns=["seed_index", "seed"]))
    assert list(single.columns) == list(table.columns)


def _job(inputs, outputs, params, wildcards=None):
    inputs = NamedList(inputs, {}) if isinstance(inputs, list) else NamedList([], inputs)
    return SimpleNamespace(input=inputs, output=NamedList([], outputs), params=SimpleNamespace(**params),
                           wildcards=NamedList([], wildcards or {}), log=[], threads=1, rule="test")


def test_table_and_figure_scripts_on_fake_inputs(tmp_path, rng):
    paths, keys = [], []
    for training in SHORTCUT_TRAININGS:
        for index in range(2):
            path = tmp_path / "results/shortcut/d/m" / f"{shortcut_seed_dir(index)}{training}.parquet"
            io.save_parquet(path, _evaluation(rng))
            paths.append(str(path))
            keys.append(_keys(training, index))
    tables = {"table": str(tmp_path / "shortcut.csv"), "seeds": str(tmp_path / "shortcut_seeds.csv")}
    params = {"input_keys": keys, "aggregate": {"bootstrap_resamples": 30, "confidence": 0.95}, "seed": 0}
    runpy.run_path(str(SCRIPTS / "aggregate_shortcut.py"), init_globals={"snakemake": _job(paths, tables, params)})
    table, per_seed = pd.read_csv(tables["table"]), pd.read_csv(tables["seeds"])
    assert len(table) == 6 and (table["seeds"] == 2).all() and len(per_seed) == 12

    # The shuffled-marker test images and each training's maps of them (seed index 0).
    n = 24
    images = rng.integers(0, 256, (n, 16, 16, 3), dtype=np.uint8)
    masks = np.zeros((n, 16, 16), bool)
    masks[:, 4:10, 4:10] = True
    split = ImageSet(images=images, labels=np.repeat(np.arange(3), n // 3), ids=np.array([f"im{i}" for i in range(n)]),
                     class_names=("circle", "square", "triangle"), masks=masks, boxes=np.tile([4, 4, 9, 9], (n, 1)))
    save_split(tmp_path / "test_shuffled.npz", split)
    maps = []
    for training in SHORTCUT_TRAININGS:
        path = tmp_path / f"{training}.maps.npz"
        io.save_npz(path, {"ids": split.ids, "predictions": rng.integers(0, 3, n), "maps": rng.random((n, 4, 4), np.float32)})
        maps.append(str(path))
    outputs = {"png": str(tmp_path / "figure.png"), "pdf": str(tmp_path / "figure.pdf")}
    job = _job({"table": tables["table"], "test": str(tmp_path / "test_shuffled.npz"), "maps": maps}, outputs,
               {"trainings": list(SHORTCUT_TRAININGS), "explain": {"method": "gradcam", "layer": "layer4"}, "confidence": 0.95},
               {"dataset": "d", "model": "m"})
    runpy.run_path(str(SCRIPTS / "figure_shortcut.py"), init_globals={"snakemake": job})
    for path in outputs.values():
        assert Path(path).stat().st_size > 5_000, path
    # Maps of other images than the test split's are refused.
    io.save_npz(maps[1], {"ids": split.ids[::-1], "predictions": np.zeros(n, int), "maps": np.zeros((n, 4, 4), np.float32)})
    with pytest.raises(SystemExit):
        runpy.run_path(str(SCRIPTS / "figure_shortcut.py"), init_globals={"snakemake": job})


@pytest.mark.pipeline
def test_two_seeds_plan_four_trainings_at_their_paths(tmp_path):
    tiny = yaml.safe_load((ROOT / "tests/data/tiny.yaml").read_text())
    tiny["shortcut"]["seeds"] = 2
    (tmp_path / "seeds.yaml").write_text(yaml.safe_dump(tiny))
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(tmp_path),
         "--configfile", str(tmp_path / "seeds.yaml"), "--cores", "1", "--dry-run", "demo_shortcut"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    table = result.stdout.split("Job stats:")[1].split("total")[0]
    jobs = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}
    assert jobs == {"prepare_shortcut": 1, "train_shortcut": 4, "evaluate_shortcut": 4, "aggregate_shortcut": 1,
                    "aggregate_shortcut_classifiers": 1, "figure_shortcut": 1, "demo_shortcut": 1}
    for training in SHORTCUT_TRAININGS:  # seed index 0 where one seed keeps them, index 1 under seed1/
        assert f"results/shortcut/tiny/r18/{training}.pt" in result.stdout
        assert f"results/shortcut/tiny/r18/seed1/{training}.maps.npz" in result.stdout
    assert "results/tables/shortcut_seeds.csv" in result.stdout
