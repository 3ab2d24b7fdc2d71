"""The default pipeline, cold, in a temporary directory: wall time, jobs, time per stage, start-up share.

    python benchmarks/pipeline.py [--cores 2] [--configfile FILE] [--keep DIR]

Time per stage sums the jobs' own benchmark files (results/benchmarks/, seconds of wall time per job).
Start-up is what a job spends before its first line of work: the interpreter plus its script's imports
(Snakemake's script preamble, torch, torchvision, camsweep …), measured here per script as the median of
three fresh interpreters that import exactly what the script imports, then summed over the jobs. The
ratio printed is start-up over all job time (goal ≤ 20 %).
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START_UP_GOAL = 0.20


def script_imports(script: Path) -> str:
    """The import statements of a workflow script, as source (what its job imports before working)."""
    tree = ast.parse(script.read_text())
    lines = [ast.unparse(node) for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
    return "\n".join(["import snakemake.script", *lines])


def start_up_seconds(script: Path) -> float:
    """Median wall time of three fresh interpreters importing what ``script`` imports."""
    code = script_imports(script)
    times = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=script.parent)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def rule_scripts() -> list[tuple[re.Pattern, Path]]:
    """(rule-name pattern, script) of every rule in workflow/rules/, read from the .smk files: a rule defined
    in a loop is named by an f-string (``name: f"predict{suffix}"``), whose fields match any word part."""
    found = []
    for path in (ROOT / "workflow/rules").rglob("*.smk"):
        for block in re.split(r"\n\s*(?=rule |checkpoint |rule:)", path.read_text()):
            script = re.search(r'script:\s*\n\s*"(?:\.\./)+scripts/(\w+\.py)"', block)
            name = re.search(r"(?:rule|checkpoint) (\w+):", block) or re.search(r'name:\s*\n\s*f"([^"]+)"', block)
            if script and name:
                pattern = re.sub(r"\\\{\w+\\\}", r"\\w*", re.escape(name.group(1)))
                found.append((re.compile(pattern), ROOT / "workflow/scripts" / script.group(1)))
    return found


def script_of(rule: str, scripts: list[tuple[re.Pattern, Path]]) -> Path:
    """The script of ``rule``: a rule of that exact name, else the one loop-named pattern it fits."""
    exact = {script for pattern, script in scripts if pattern.pattern == re.escape(rule)}
    matches = exact or {script for pattern, script in scripts if pattern.fullmatch(rule)}
    if len(matches) != 1:
        raise ValueError(f"rule {rule!r}: {len(matches)} scripts match in workflow/rules/")
    return matches.pop()


def benchmark_rows(results: Path) -> list[tuple[str, float]]:
    """(rule, seconds) of every job's benchmark file (results/benchmarks/<rule>[/…].tsv)."""
    rows = []
    for path in sorted((results / "benchmarks").rglob("*.tsv")):
        rule = path.relative_to(results / "benchmarks").parts[0].removesuffix(".tsv")
        with path.open() as handle:
            record = next(csv.DictReader(handle, delimiter="\t"))
        rows.append((rule, float(record["s"])))
    return rows


def cpu_description() -> str:
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"model name\s*:\s*(.*)", flags)
    amx = "amx_tile" in flags
    return f"{model.group(1) if model else platform.processor()} ({'AMX' if amx else 'no AMX'})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", default="2")
    parser.add_argument("--configfile", help="default: config/config.yaml")
    parser.add_argument("--keep", help="run in this directory and keep it (default: a temporary one)")
    args = parser.parse_args()
    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="camsweep-pipeline-"))
    command = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
               "--cores", args.cores]
    if args.configfile:
        command += ["--configfile", str(Path(args.configfile).resolve())]
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        with (workdir / "snakemake.log").open("w") as log:
            subprocess.run(command, check=True, stdout=log, stderr=subprocess.STDOUT)
        wall = time.perf_counter() - started
        rows = benchmark_rows(workdir / "results")
        scripts = rule_scripts()
        script = {rule: script_of(rule, scripts) for rule, _ in rows}
        per_script = {path: start_up_seconds(path) for path in set(script.values())}
        stages: dict[str, list[float]] = defaultdict(list)
        for rule, seconds in rows:
            stages[rule].append(seconds)
        job_seconds = sum(seconds for _, seconds in rows)
        start_up = sum(per_script[script[rule]] for rule, _ in rows)
        precisions = sorted({json.loads(path.read_text())["precision"] or "none"
                             for path in (workdir / "results/models").rglob("*.metrics.json")})
        print(f"CPU: {cpu_description()}, --cores {args.cores}, python {platform.python_version()}, "
              f"training precision {', '.join(precisions) or 'no training'}")
        print(f"wall time {wall:.0f} s, {len(rows)} jobs, {job_seconds:.0f} job-seconds")
        print(f"{'rule':<28}{'jobs':>5}{'seconds':>10}{'start-up':>10}")
        for rule, times in sorted(stages.items(), key=lambda item: -sum(item[1])):
            print(f"{rule:<28}{len(times):>5}{sum(times):>10.1f}{per_script[script[rule]] * len(times):>10.1f}")
        share = start_up / job_seconds
        verdict = "met" if share <= START_UP_GOAL else "missed"
        print(f"start-up (interpreter + imports) {start_up:.0f} s of {job_seconds:.0f} job-seconds: "
              f"{share:.1%} (goal ≤ {START_UP_GOAL:.0%}, {verdict})")
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
