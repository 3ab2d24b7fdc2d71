# Two commands: `make run` (the default pipeline) and `make test` (logic plus one tiny end-to-end run).
# `make demo` adds the segmenter and shortcut demonstrations; `make test-all` (what CI runs) adds the
# study runs, the kill test and the SLURM run. Each creates .venv if it is missing and installs into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= all

.PHONY: run demo test test-all lint report clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps record what was installed; they are rebuilt when pyproject.toml changes.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

# The test references imagecorruptions and grad-cam (pytorch-grad-cam, with its ttach) are installed
# without their dependencies: both require the GUI build of OpenCV, which would put a second cv2 next to
# opencv-python-headless; everything else they import is already a camsweep dependency. The test extra
# includes the timm extra (the study configs' timm backbones); outside tests: pip install -e ".[timm]".
$(VENV)/.installed-test: $(VENV)/.installed Makefile
	$(BIN)/pip install --quiet -e ".[test]"
	$(BIN)/pip install --quiet --no-deps imagecorruptions==1.1.2 grad-cam==1.5.7 ttach==0.0.3
	touch $@

run: $(VENV)/.installed
	$(BIN)/snakemake --cores $(CORES)

demo: $(VENV)/.installed
	$(BIN)/snakemake --cores $(CORES) demos

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -m "not full"

test-all: $(VENV)/.installed-test
	$(BIN)/python -m pytest

lint: $(VENV)/.installed
	$(BIN)/snakemake --lint

report: $(VENV)/.installed
	$(BIN)/snakemake --report results/report.html

clean:
	rm -rf results .snakemake
