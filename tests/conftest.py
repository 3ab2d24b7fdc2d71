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


def clean_copy(destination: Path) -> Path:
    """The repository as a fresh clone of it would be (the files git tracks or would track, without ignored
    ones such as .venv or results/), copied to ``destination``."""
    listing = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                             capture_output=True, check=True).stdout.decode()
    for name in filter(None, listing.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not in the copy
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


def make_run_command() -> list[str]:
    """`make run` as a user types it, in a copy whose .venv is this one (-o: the install step is done);
    without a .venv here (pytest run from another environment), the command its recipe runs."""
    if (ROOT / ".venv/bin/snakemake").exists() and shutil.which("make"):
        return ["make", "-o", ".venv/.installed", "run", "CORES=2"]
    return [sys.executable, "-m", "snakemake", "--cores", "2"]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """`make run` from the root of a clean copy of the repository whose config/config.yaml is
    tests/data/tiny.yaml (--cores 2), once per session; shared by tests/test_pipeline.py and the full tier.
    tiny.yaml is also kept at the copy's root. Tests may add files to it but must not change what it produced."""
    workdir = clean_copy(tmp_path_factory.mktemp("tiny"))
    shutil.copy(ROOT / "tests/data/tiny.yaml", workdir / "config/config.yaml")
    shutil.copy(ROOT / "tests/data/tiny.yaml", workdir / "tiny.yaml")
    if (ROOT / ".venv").exists():
        (workdir / ".venv").symlink_to(ROOT / ".venv")
    result = subprocess.run(
        make_run_command(), cwd=workdir, capture_output=True, text=True,
        timeout=1800,  # a hung run fails; a loaded machine is slow
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return workdir
