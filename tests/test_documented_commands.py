"""Every `snakemake …` command in README.md and docs/ works as written from the root of a clean copy of the
repository: each is dry-run there (`-n` added), offline. (`make run` itself runs for real on the tiny config:
the tiny_run fixture.)"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, clean_copy

# No request leaves the machine: a download would go to a port where nothing listens.
OFFLINE = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}
FENCE = re.compile(r"^```(?:bash|sh|shell|console)?\n(.*?)^```", re.M | re.S)


def documented_commands() -> list[tuple[str, str]]:
    """(file, command) of every line of a fenced code block that starts with `snakemake `, comments cut; a
    command documented in several places is dry-run once (the first file that gives it)."""
    found = {}
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for block in FENCE.findall(path.read_text()):
            for line in block.splitlines():
                command = line.split(" #", 1)[0].strip()
                if command.startswith("snakemake "):
                    found.setdefault(command, str(path.relative_to(ROOT)))
    return [(source, command) for command, source in found.items()]


COMMANDS = documented_commands()


@pytest.fixture(scope="module")
def repository(tmp_path_factory):
    return clean_copy(tmp_path_factory.mktemp("clone"))


def planned_jobs(output: str) -> dict[str, int]:
    if "Job stats:" not in output:
        return {}
    table = output.split("Job stats:")[1].split("total")[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def test_the_docs_give_the_study_and_cluster_commands():
    commands = [command for _, command in COMMANDS]
    needed_targets = ("segmentation_ablation", "perturbation_robustness", "attention_training", "box_vs_mask")
    for needed in (*needed_targets, "demos", "workflow/profiles/slurm"):
        assert any(needed in command for command in commands), needed


@pytest.mark.parametrize(("source", "command"), COMMANDS, ids=[command for _, command in COMMANDS])
def test_command_dry_runs_from_the_repository_root(repository, source, command):
    words = shlex.split(command)
    dry = [sys.executable, "-m", "snakemake", *words[1:], "-n"]
    env = {**os.environ, **OFFLINE, "TORCH_HOME": str(repository / "torch")}
    result = subprocess.run(dry, cwd=repository, capture_output=True, text=True, timeout=300, env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{source}: `{command}` failed:\n{output[-4000:]}"
    jobs = planned_jobs(output)
    if "--configfile" in words:
        study = Path(words[words.index("--configfile") + 1]).stem
        if study == "segmentation_ablation":  # no classifier: nothing of the default's chain may be planned
            assert jobs.get("train_segmenter") == 1 and "train_classifier" not in jobs, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
