"""Glue for workflow scripts: the job's inputs/outputs/params, logging, and a command-line fallback.

A script under ``workflow/scripts`` starts with::

    with job_context(globals()) as job:
        ...  # job.input.x, job.output.y, job.params.z, job.threads, job.wildcards

When Snakemake runs the script, ``job`` is its ``snakemake`` object. Run by hand, it is built from the
command line, e.g.::

    python workflow/scripts/perturb.py --input images=results/data/shapes/test.npz \
        --output images=/tmp/out.npz --params name=contrast severity=3 seed=0 dataset=shapes

Values after ``--params``/``--wildcards`` are parsed as YAML (numbers, lists, mappings).
This module never imports Snakemake.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import traceback
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import yaml


class NamedList(list):
    """A list whose items can also be reached by name, like Snakemake's ``input``/``output``."""

    def __init__(self, positional: list[Any], named: dict[str, Any]):
        super().__init__(positional + list(named.values()))
        self._names = dict(named)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._names[name]
        except KeyError:
            raise AttributeError(f"no item named {name!r}; have {sorted(self._names)}") from None

    def items(self) -> list[tuple[str, Any]]:
        return list(self._names.items())


def _split(items: list[str], parse: bool) -> NamedList:
    positional, named = [], {}
    for item in items:
        key, sep, value = item.partition("=")
        if sep and key.isidentifier():
            named[key] = yaml.safe_load(value) if parse else value
        else:
            positional.append(yaml.safe_load(item) if parse else item)
    return NamedList(positional, named)


def from_argv(argv: list[str]) -> SimpleNamespace:
    """A Snakemake-like job object from command-line arguments (for running a script by hand)."""
    parser = argparse.ArgumentParser(description="Run a camsweep workflow script outside Snakemake.")
    for name in ("input", "output", "params", "wildcards", "log"):
        parser.add_argument(f"--{name}", nargs="*", default=[], metavar="[NAME=]VALUE")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    return SimpleNamespace(
        input=_split(args.input, parse=False), output=_split(args.output, parse=False),
        params=_split(args.params, parse=True), wildcards=_split(args.wildcards, parse=False),
        log=_split(args.log, parse=False), threads=args.threads, rule="by-hand",
    )


@contextlib.contextmanager
def job_context(namespace: dict[str, Any]) -> Iterator[Any]:
    """The job, with logging (and tqdm) sent to the rule's log file; errors also reach the console."""
    job = namespace.get("snakemake") or from_argv(sys.argv[1:])
    console = sys.stderr
    log_file = open(job.log[0], "w", buffering=1) if len(job.log) else None
    if log_file is not None:
        sys.stderr = log_file
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", force=True
    )
    try:
        yield job
    except BaseException:
        message = traceback.format_exc()
        if log_file is not None:
            log_file.write(message)
        console.write(f"camsweep {job.rule} failed:\n{message}")
        raise SystemExit(1) from None
    finally:
        sys.stderr = console
        if log_file is not None:
            log_file.close()
