import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from camsweep.data import synthetic

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shapes_split():
    """Twelve small synthetic test images (deterministic)."""
    return synthetic.generate(synthetic.SyntheticSpec(image_size=48), 12, "test", seed=7)


@pytest.fixture()
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """tests/data/tiny.yaml run locally (--cores 2) once per session, shared by tests/test_pipeline.py and
    tests/test_slurm.py. Tests may add files to it but must not change what it produced."""
    workdir = tmp_path_factory.mktemp("tiny")
    shutil.copy(ROOT / "tests/data/tiny.yaml", workdir / "tiny.yaml")
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
         "--configfile", str(workdir / "tiny.yaml"), "--cores", "2"],
        capture_output=True, text=True, timeout=1800,  # a hung run fails; a loaded machine is slow
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return workdir
