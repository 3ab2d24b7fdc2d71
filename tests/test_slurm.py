"""The tiny config's core tables on a real SLURM cluster through workflow/profiles/slurm: every job goes through sbatch,
and the tables come out byte-identical to the local run (the shared `tiny_run` fixture, tests/conftest.py).

Needs a running cluster with an idle node: on a machine like CI, as root, tests/slurm/install.sh then
tests/slurm/start.sh (tests/slurm/stop.sh afterwards). Without one the test skips, unless
CAMSWEEP_REQUIRE_SLURM=1 (set by .ci/run), where it fails.
"""

import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

pytestmark = [pytest.mark.slurm, pytest.mark.pipeline, pytest.mark.full]
ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "workflow/profiles/slurm"
TIMEOUT = 3600  # seconds for the whole SLURM run
SUBMITTED = re.compile(r"Job (\S+) has been submitted with SLURM jobid (\d+) \(log: (.*)\)\.")  # group jobs: a UUID
# Test-only settings on top of the profile. The test cluster has no accounting, so sacct cannot see jobs:
# poll squeue (MinJobAge=300 in tests/slurm/start.sh keeps finished jobs visible), and poll soon.
# --max-threads 2: the local run's --cores 2 caps every rule at 2 threads, and the threads a job runs
# with (torch.set_num_threads) must match for the tables to be byte-identical.
TEST_OPTIONS = [
    "--slurm-status-command", "squeue",
    "--slurm-init-seconds-before-status-checks", "2",
    "--seconds-between-status-checks", "2",
    "--max-threads", "2",
]


# Rules are grouped by stage so the run submits a handful of SLURM jobs, each running several of the
# pipeline's ordinary jobs (Snakemake's group jobs): every job still goes through sbatch, and a job's
# start-up (Snakemake and torch imports, 20–40 s under SLURM) is paid per group, not per rule.
TARGETS = {"all", "figures", "demos", "demo_segmentation", "demo_shortcut", "segmentation_ablation",
           "perturbation_robustness", "attention_training", "box_vs_mask"}
MAX_SLURM_JOBS = 20


def stage_group(rule):
    if rule.startswith(("prepare_", "download_")):
        return "data"
    if rule.startswith("train_"):
        return "train"
    if rule.startswith(("aggregate_", "figure_", "merge_")) or rule.endswith("_table") or rule.endswith("_tables"):
        return "summaries"
    return "maps"


def group_options(workdir):
    """--groups (every rule of the run by stage) and --group-components (each stage's independent parts in
    one SLURM job)."""
    listing = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
         "--configfile", str(workdir / "tiny.yaml"), "--list-rules"],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    rules = [rule for rule in listing if re.fullmatch(r"\w+", rule) and rule not in TARGETS
             and not re.fullmatch(r"s\d_figures", rule)]
    return ["--groups", *(f"{rule}={stage_group(rule)}" for rule in rules),
            "--group-components", *(f"{group}=100" for group in ("data", "train", "maps", "summaries"))]


def idle_node():
    """(partition, cpus, memory_mb) of an idle SLURM node, or a string saying why there is none."""
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return "snakemake-executor-plugin-slurm is not installed (pip install -e '.[test]')"
    if shutil.which("sinfo") is None:
        return "no SLURM here: sinfo is not on PATH (tests/slurm/install.sh, then tests/slurm/start.sh)"
    try:
        result = subprocess.run(["sinfo", "--noheader", "--Node", "--format", "%P %t %c %m"],
                                capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return "sinfo did not answer within 30 s (is slurmctld running? tests/slurm/start.sh)"
    if result.returncode != 0:
        return f"sinfo failed (is slurmctld running? tests/slurm/start.sh): {result.stderr.strip()}"
    nodes = [line.split() for line in result.stdout.splitlines() if len(line.split()) == 4]
    idle = [node for node in nodes if node[1] == "idle"]
    if not idle:
        return f"no idle SLURM node (sinfo: {result.stdout.strip() or 'no nodes'})"
    idle.sort(key=lambda node: not node[0].endswith("*"))  # the default partition first
    partition, _, cpus, memory = idle[0]
    return partition.rstrip("*"), int(cpus), int(memory.rstrip("+"))


@pytest.fixture(scope="session")
def slurm_node():
    """Session-scoped and requested first, so that a skip comes before the local tiny run starts."""
    node = idle_node()
    if isinstance(node, str):
        if os.environ.get("CAMSWEEP_REQUIRE_SLURM") == "1":
            pytest.fail(f"CAMSWEEP_REQUIRE_SLURM=1 but {node}", pytrace=False)
        pytest.skip(node)
    return node


def resource_options(partition, memory_mb):
    """--default-resources from the profile with the test cluster's partition, and --set-resources only
    where the profile asks for more memory than the node has (a command-line list replaces the profile's
    whole list, so each is given in full)."""
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    defaults = {**profile["default-resources"], "slurm_partition": partition}
    options = ["--default-resources", *(f"{name}={value}" for name, value in defaults.items())]
    overrides = profile.get("set-resources", {})
    if any(int(resources.get("mem_mb", 0)) > memory_mb for resources in overrides.values()):
        options += ["--set-resources", *(
            f"{rule}:{name}={min(int(value), memory_mb) if name == 'mem_mb' else value}"
            for rule, resources in overrides.items() for name, value in resources.items())]
    return options


def cancel_jobs_in(workdir):
    """scancel whatever this run left in the queue (after a timeout): the jobs whose working directory
    is the run's."""
    listing = subprocess.run(["squeue", "--noheader", "--format", "%i %Z"], capture_output=True, text=True)
    ids = [line.split()[0] for line in listing.stdout.splitlines()
           if len(line.split()) == 2 and Path(line.split()[1]) == workdir]
    if ids:
        subprocess.run(["scancel", *ids], check=False)
    return ids


# The core chain's tables (the demonstrations' are left to the local run: under SLURM every job of a group
# still starts its own Snakemake, 5–10 s each, and CI's time is better spent elsewhere).
CORE_TABLES = ["classification.csv", "classifiers.csv", "cam_metrics.csv", "box_vs_mask.csv", "s4_table1.csv",
               "method_comparisons.csv", "sanity.csv", "cascading_randomisation.csv", "wsol.csv", "faithfulness.csv"]


def run_on_slurm(workdir, options):
    # The targets come first: options such as --resources take every word after them.
    command = [sys.executable, "-m", "snakemake", *(f"results/tables/{table}" for table in CORE_TABLES),
               "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
               "--configfile", str(workdir / "tiny.yaml"), "--workflow-profile", str(PROFILE), *options]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    try:
        output, _ = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGTERM)  # Snakemake cancels its SLURM jobs on SIGTERM
        try:
            output, _ = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
        cancelled = cancel_jobs_in(workdir)
        pytest.fail(f"the SLURM run did not finish within {TIMEOUT} s (cancelled SLURM jobs: {cancelled}); "
                    f"its output ended with:\n{output[-5000:]}", pytrace=False)
    return process.returncode, output


def failed_job_logs(workdir):
    """The SLURM logs the plugin kept (it deletes those of successful jobs)."""
    logs = sorted((workdir / ".snakemake/slurm_logs").rglob("*.log"))
    return "".join(f"\n----- {log} -----\n{log.read_text(errors='replace')[-2000:]}" for log in logs[-5:])


def test_tiny_config_on_slurm_gives_the_local_tables(slurm_node, tiny_run, tmp_path, capsys):
    partition, cpus, memory_mb = slurm_node
    workdir = tmp_path / "slurm"
    workdir.mkdir()
    shutil.copy(ROOT / "tests/data/tiny.yaml", workdir / "tiny.yaml")
    # A group job asks for what its jobs need side by side, within the node: --cores and --resources make
    # Snakemake stack a group's jobs in series where they would not fit together.
    capacity = ["--cores", str(cpus), "--resources", f"mem_mb={memory_mb}"]
    options = [*TEST_OPTIONS, *resource_options(partition, memory_mb), *group_options(workdir), *capacity]

    start = time.monotonic()
    returncode, output = run_on_slurm(workdir, options)
    seconds = time.monotonic() - start
    submitted = SUBMITTED.findall(output)
    queue = subprocess.run(["squeue", "--states=all", "--noheader", "--format", "%i %j %T %M %N %Z"],
                           capture_output=True, text=True).stdout
    with capsys.disabled():
        print(f"\nSLURM run of tests/data/tiny.yaml: partition {partition} ({cpus} CPUs, {memory_mb} MB), "
              f"{len(submitted)} SLURM jobs in {seconds:.0f} s, exit status {returncode}")
        for line in output.splitlines():
            if SUBMITTED.search(line):
                print("  " + line.strip().replace(str(workdir), "<workdir>"))
        print("squeue --states=all (this run's jobs; finished ones stay listed for MinJobAge):")
        for line in queue.splitlines():
            if line.split() and Path(line.split()[-1]) == workdir:
                print("  " + " ".join(line.split()[:-1]))

    assert returncode == 0, output[-6000:] + failed_job_logs(workdir)
    assert submitted, "no 'has been submitted with SLURM jobid' line in Snakemake's output:\n" + output[-3000:]
    assert len({slurm_job for _, slurm_job, _ in submitted}) == len(submitted)
    assert len(submitted) <= MAX_SLURM_JOBS, f"{len(submitted)} SLURM jobs"
    local_tables = sorted(path.name for path in (tiny_run / "results/tables").glob("*.csv"))
    slurm_tables = sorted(path.name for path in (workdir / "results/tables").glob("*.csv"))
    assert slurm_tables == sorted(CORE_TABLES) and set(CORE_TABLES) <= set(local_tables)
    for table in slurm_tables:
        assert (workdir / "results/tables" / table).read_bytes() == (tiny_run / "results/tables" / table).read_bytes(), table
