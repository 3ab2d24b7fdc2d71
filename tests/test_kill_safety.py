"""A run SIGKILLed in the middle of each stage and restarted with the commands of docs/scale.md ends with the
tables of an uninterrupted run, byte for byte, and leaves no temporary files behind."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.pipeline, pytest.mark.full]
ROOT = Path(__file__).resolve().parents[1]
TABLES = ["classification.csv", "cam_metrics.csv", "box_vs_mask.csv", "wsol.csv"]
# The stages on the way to TABLES. Each run is killed as soon as a job of a stage not yet hit has started,
# so every stage is interrupted once, whatever order the scheduler picks.
STAGES = ["prepare_synthetic", "train_classifier", "perturb", "predict", "cam_shared", "cam_rerun", "score_cams",
          "aggregate_cams"]


def command(workdir, *args):
    return [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
            "--configfile", str(workdir / "tiny.yaml"), *args]


def job_started(workdir, stage, since):
    """Whether a job of ``stage`` opened its log (job_context does so first) at or after ``since``."""
    logs = workdir / "results/logs"
    paths = [logs / f"{stage}.log", *(logs / stage).rglob("*.log")]
    return any(path.is_file() and path.stat().st_mtime >= since for path in paths)


def kill_at_a_new_stage(workdir, stages, timeout=900):
    """Start the run and SIGKILL its whole process group just after a job of one of ``stages`` starts;
    the stages hit (none if the run finished first)."""
    since = time.time() - 1  # log mtimes have coarse resolution on some filesystems
    # --rerun-incomplete: the documented restart (after --unlock) — a killed batch job may already have written
    # some of its files, which Snakemake then redoes instead of refusing to start.
    process = subprocess.Popen(command(workdir, "--cores", "2", "--rerun-incomplete", *(f"results/tables/{t}" for t in TABLES)),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + timeout
    try:
        while process.poll() is None:
            if any(job_started(workdir, stage, since) for stage in stages):
                time.sleep(0.5)  # into the job's work, not at its first line
                # Read again: a short job (a tiny perturb) may have started and even finished in that half
                # second; it ran in this run, and no job of its stage may be left for a later one to kill.
                return [stage for stage in stages if job_started(workdir, stage, since)]
            assert time.time() < deadline, f"no job of {stages} started within {timeout} s"
            time.sleep(0.1)
        return []
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_killed_in_every_stage_then_resumed_gives_the_uninterrupted_tables(tiny_run, tmp_path):
    shutil.copy(ROOT / "tests/data/tiny.yaml", tmp_path / "tiny.yaml")
    remaining = list(STAGES)
    while remaining:
        hit = kill_at_a_new_stage(tmp_path, remaining)
        assert hit, f"the run finished before any job of {remaining} started"
        remaining = [stage for stage in remaining if stage not in hit]
        # The kill leaves Snakemake's lock; the documented restart clears it and reruns what was incomplete.
        subprocess.run(command(tmp_path, "--unlock"), check=True, capture_output=True, timeout=300)
    result = subprocess.run(command(tmp_path, "--cores", "2", "--rerun-incomplete",
                                    *(f"results/tables/{t}" for t in TABLES)),
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for table in TABLES:
        assert (tmp_path / "results/tables" / table).read_bytes() == (tiny_run / "results/tables" / table).read_bytes(), table
    leftovers = [path for path in (tmp_path / "results").rglob("*.tmp")]
    assert not leftovers, leftovers
