"""Pipeline scaling: wall time of the CAM + metric stages at several test-split sizes, on 1 and on 2
cores, and the parallel speed-up (time on 1 core / time on 2 cores) per size against the goal ≥ 1.6×.

What is measured: Snakemake runs of only the CAM jobs (cam_shared[_clean], cam_rerun[_clean]) and the
per-image metric jobs (score_cams) of tests/data/tiny.yaml's synthetic dataset and ResNet-18, with the
segmenters and the shortcut study switched off and the test split set to each size. The CAM rules run one
job for the clean images and one for the perturbed conditions (per method for ablationcam), each on up to
2 threads, and one metric job per method scores every condition; with --shard-images each of those runs
once per shard. The wall time includes Snakemake's own start-up and DAG building, as a user sees it.

How: per size, one untimed Snakemake run prepares a work directory up to the predictions (data, model,
perturbed images, predictions of every condition). For each cores setting (and repeat) the prepared
directory is copied afresh (modification times and .snakemake metadata kept, so nothing upstream
reruns) and Snakemake is timed building results/metrics/<dataset>/<model>/<method>/<p>/<s>.parquet of
every method and condition. With --repeat N each setting keeps its fastest of N runs. "job s" is the
sum of the timed jobs' own wall times (their benchmark files), so wall − job s on 1 core is roughly
Snakemake's overhead. Both cores settings are measured in the same run on the same inputs.

Usage: .venv/bin/python benchmarks/scaling.py [--sizes 16,32,64] [--repeat 1] [--quick]
       [--shard-images N] [--workdir DIR] [--keep]
--quick uses sizes 8,16,24 (a smoke run). The exit status is 0 whether or not the goal is met (it is
a benchmark, not a test); it is 1 only when a Snakemake run fails.
"""

import argparse
import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BASE_CONFIG = ROOT / "tests/data/tiny.yaml"
CORES = (1, 2)
GOAL = 1.6
METHODS = ["gradcam", "gradcam++", "ablationcam"]
CLEAN = ("none", 0)
# The rules a timed run may execute (the merge rules only with --shard-images).
TIMED_RULES = {"cam_shared", "cam_shared_clean", "cam_rerun", "cam_rerun_clean", "score_cams", "merge_cam_shards",
               "merge_score_shards"}
BENCHMARKED_RULES = ("cam_shared", "cam_shared_clean", "cam_rerun", "cam_rerun_clean", "score_cams")
# One thread per job, whatever the machine: the parallelism is Snakemake's alone.
THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def parse_sizes(text):
    sizes = sorted({int(v) for v in text.split(",") if v.strip()})
    if not sizes or sizes[0] < 1:
        raise argparse.ArgumentTypeError(f"sizes must be positive integers, got {text!r}")
    return sizes


def make_config(size, shard_images):
    """tiny.yaml without segmenters and the shortcut study, test split `size`, the benchmark's methods."""
    config = yaml.safe_load(BASE_CONFIG.read_text())
    config.pop("segmenters", None)
    config["shortcut"] = {"enabled": False}
    for dataset in config["datasets"].values():
        dataset["splits"]["test"] = size
    config["cams"]["methods"] = list(METHODS)
    layers = {m: v for m, v in config["cams"].get("layers", {}).items() if m in METHODS}
    config["cams"]["layers"] = layers
    if shard_images is not None:
        config["shards"] = {"images": shard_images}
    return config


def conditions(config):
    return [CLEAN] + [(name, severity) for name, severities in sorted(config["perturbations"].items())
                      for severity in sorted(severities)]


def prepare_targets(config, dataset, model):
    targets = [f"results/data/{dataset}/test.npz", f"results/models/{dataset}/{model}.pt"]
    for p, s in conditions(config):
        targets += [f"results/perturbed/{dataset}/{p}/{s}.npz", f"results/predictions/{dataset}/{model}/{p}/{s}.parquet"]
    if config.get("shards", {}).get("images") is not None:
        targets.append(f"results/shards/plans/{dataset}.json")
    return targets


def metric_targets(config, dataset, model):
    return [f"results/metrics/{dataset}/{model}/{method}/{p}/{s}.parquet"
            for method in METHODS for p, s in conditions(config)]


def snakemake(workdir, cores, targets):
    """Runs Snakemake in `workdir`; returns (wall seconds, combined output). Exits on failure."""
    command = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
               "--configfile", str(workdir / "config.yaml"), "--cores", str(cores), "--show-failed-logs", *targets]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **THREAD_ENV})
    seconds = time.perf_counter() - start
    output = result.stdout + result.stderr
    if result.returncode != 0:
        print(f"\nSnakemake failed in {workdir} (--cores {cores}):\n{output[-4000:]}", file=sys.stderr)
        sys.exit(1)
    return seconds, output


def job_counts(output):
    """{rule: jobs} from Snakemake's job-stats table (empty when there was nothing to do)."""
    if "Job stats:" not in output:
        return {}
    table = output.split("Job stats:")[1].split("total")[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def job_seconds(workdir):
    """Sum of the timed jobs' own wall times, from their benchmark files."""
    total = 0.0
    for rule in BENCHMARKED_RULES:
        for path in (workdir / "results/benchmarks" / rule).rglob("*.tsv"):
            with open(path) as handle:
                total += sum(float(row["s"]) for row in csv.DictReader(handle, delimiter="\t"))
    return total


def measure(prepared, scratch, cores, targets, label):
    """One timed run on a fresh copy of the prepared work directory."""
    workdir = scratch / label
    if workdir.exists():
        shutil.rmtree(workdir)
    shutil.copytree(prepared, workdir, symlinks=True)  # copy2: modification times kept
    seconds, output = snakemake(workdir, cores, targets)
    jobs = job_counts(output)
    unexpected = sorted(set(jobs) - TIMED_RULES - {"total"})
    if unexpected or not jobs:
        print(f"  warning: {label} ran {unexpected or 'nothing'} (expected only {sorted(TIMED_RULES)})")
    busy = job_seconds(workdir)
    shutil.rmtree(workdir)
    return seconds, sum(jobs.values()), busy


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=parse_sizes, default=[16, 32, 64], help="test-split sizes, e.g. 16,32,64")
    parser.add_argument("--quick", action="store_true", help="sizes 8,16,24 (a smoke run)")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs per setting; the fastest is kept")
    parser.add_argument("--shard-images", type=int, default=None, help="set shards.images (default: unsharded)")
    parser.add_argument("--workdir", type=Path, default=None, help="where the work directories go (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the prepared work directories")
    args = parser.parse_args()
    sizes = [8, 16, 24] if args.quick else args.sizes
    repeat = max(1, args.repeat)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="camsweep-scaling-", dir=args.workdir))

    example = make_config(sizes[0], args.shard_images)
    dataset, model = sorted(example["datasets"])[0], sorted(example["models"])[0]
    n_conditions = len(conditions(example))
    print("CAM + metric stages of the pipeline: wall time by test-split size and cores")
    print(f"config: {BASE_CONFIG.relative_to(ROOT)} minus segmenters/shortcut; dataset {dataset}, model {model}, "
          f"methods {', '.join(METHODS)}, {n_conditions} conditions, shards.images {args.shard_images}")
    print(f"sizes {', '.join(map(str, sizes))}; cores {', '.join(map(str, CORES))}; best of {repeat}; "
          f"1 thread per job; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    print(f"work directories under {scratch}\n")

    results = {}  # (size, cores) -> (seconds, jobs, job seconds)
    prepare_seconds = {}
    start_all = time.perf_counter()
    for size in sizes:
        config = make_config(size, args.shard_images)
        prepared = scratch / f"prepared-{size}"
        prepared.mkdir()
        (prepared / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        prepare_seconds[size], _ = snakemake(prepared, max(CORES), prepare_targets(config, dataset, model))
        print(f"size {size:>4}: prepared up to the predictions in {prepare_seconds[size]:.1f} s (untimed)")
        targets = metric_targets(config, dataset, model)
        for r in range(repeat):
            for cores in CORES:  # interleaved, so slow drifts in machine load hit both settings alike
                run = measure(prepared, scratch, cores, targets, f"run-{size}-{cores}-{r}")
                print(f"           --cores {cores} run {r + 1}: {run[0]:.1f} s, {run[1]} jobs")
                if (size, cores) not in results or run[0] < results[size, cores][0]:
                    results[size, cores] = run
        if not args.keep:
            shutil.rmtree(prepared)
    total_seconds = time.perf_counter() - start_all

    print(f"\n{'size':>6} {'cores':>6} {'wall s':>9} {'s/image':>9} {'jobs':>6} {'job s':>9}")
    for size in sizes:
        for cores in CORES:
            seconds, jobs, busy = results[size, cores]
            print(f"{size:>6} {cores:>6} {seconds:>9.1f} {seconds / size:>9.3f} {jobs:>6} {busy:>9.1f}")

    print(f"\nparallel speed-up (wall at {CORES[0]} core / wall at {CORES[-1]} cores), goal ≥ {GOAL}×")
    print(f"{'size':>6} {'1 core s':>9} {'2 cores s':>10} {'speed-up':>9}  goal")
    met_all = True
    for size in sizes:
        one, two = results[size, CORES[0]][0], results[size, CORES[-1]][0]
        ratio = one / two
        met = ratio >= GOAL
        met_all &= met
        print(f"{size:>6} {one:>9.1f} {two:>10.1f} {ratio:>8.2f}×  {'met' if met else 'missed'}")
    if met_all:
        print(f"\ngoal met: speed-up ≥ {GOAL}× at every size")
    else:
        print(f"\ngoal missed: speed-up below {GOAL}× at some size")
    print(f"benchmark took {total_seconds:.0f} s ({sum(prepare_seconds.values()):.0f} s preparing)")
    if args.keep:
        print(f"prepared work directories kept under {scratch}")
    else:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
