"""The documentation's shape: a one-page README, the docs/ pages it links to, a config/README.md that covers
every config section, links that resolve inside the repository, and no reference to anything outside it."""

import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["architecture", "configuration", "metrics", "cam-engine", "studies", "scale", "measurements", "development"]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^```.*?^```", re.M | re.S)
OUTSIDE = "/".join(["..", "shared"])  # spelt in two parts so that this file does not contain it


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", ROOT / "config" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", lambda m: "_" if m.group(0) == "_" else "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text())
    return {slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*$", text, re.M)}


def test_readme_is_one_page():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; move detail into docs/"


@pytest.mark.parametrize("page", PAGES)
def test_docs_page_exists_and_is_linked_from_the_readme(page):
    assert (ROOT / "docs" / f"{page}.md").is_file(), f"docs/{page}.md is missing"
    assert f"docs/{page}.md" in (ROOT / "README.md").read_text(), f"README.md does not link docs/{page}.md"


def test_config_readme_mentions_every_top_level_key():
    schema = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
    text = (ROOT / "config" / "README.md").read_text()
    missing = [key for key in schema["properties"] if f"`{key}`" not in text]
    assert not missing, f"config/README.md does not describe: {missing}"


def test_the_workflow_catalog_file_has_the_mandatory_keys():
    catalog = yaml.safe_load((ROOT / ".snakemake-workflow-catalog.yml").read_text())
    usage = catalog["usage"]
    assert {"desc", "flags"} <= set(usage["mandatory-flags"])
    assert usage["software-stack-deployment"]["conda"] is True
    assert usage["report"] is True


def repository_files() -> list[Path]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: cannot list the repository's files")
    return [ROOT / name for name in listed if (ROOT / name).is_file()]


def test_no_file_refers_outside_the_repository():
    offenders = [
        str(path.relative_to(ROOT))
        for path in repository_files()
        if OUTSIDE.encode() in path.read_bytes()
    ]
    assert not offenders, f"these files refer to {OUTSIDE}, which is not part of the repository: {offenders}"


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve_inside_the_repository(path):
    broken = []
    for target in LINK.findall(FENCE.sub("", path.read_text())):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: …
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if ROOT.resolve() not in [linked, *linked.parents]:
            broken.append(f"{target}: outside the repository")
        elif not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading with anchor #{anchor}")
    assert not broken, f"{path.relative_to(ROOT)}: " + "; ".join(broken)
