"""README's table of resources per rule matches what the rules declare (rules without resources, the
study targets, are left out of it)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RULE = re.compile(r"(?m)^(?:    )?(?:rule|checkpoint) (\w+):\n(.*?)(?=^(?:    )?(?:rule|checkpoint) \w+:|\Z)", re.S)


def declared_resources():
    """{rule: (threads, mem_mb, runtime, gpu)} read from the rule files' text."""
    declared = {}
    for path in sorted((ROOT / "workflow/rules").glob("*.smk")):
        for name, body in RULE.findall(path.read_text()):
            if "resources:" not in body:
                continue
            threads = re.search(r"threads:\s*(\d+)", body)
            memory = re.search(r"mem_mb=(?:lambda wc: )?(\d+)( \+ int\(config\[\"cams\"\]\[\"memory_budget_mb\"\]\))?", body)
            memory_text = memory.group(1) + (" + cams.memory_budget_mb" if memory.group(2) else "")
            runtime = re.search(r"runtime=(\d+)", body)
            declared[name] = (threads.group(1) if threads else "1", memory_text, runtime.group(1),
                              "yes" if "GPU_RESOURCES" in body else "no")
    return declared


def documented_resources():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("<!-- resources -->")[1]
    rows = re.findall(r"^\| `(\w+)` \| (\d+) \| ([^|]+?) \| (\d+) \| (yes|no) \|$", table, re.M)
    return {name: (threads, memory, runtime, gpu) for name, threads, memory, runtime, gpu in rows}


def test_readme_lists_every_rules_resources():
    declared = declared_resources()
    assert len(declared) > 40 and declared["cam_rerun"] == ("1", "2000 + cams.memory_budget_mb", "120", "yes")
    assert documented_resources() == declared
