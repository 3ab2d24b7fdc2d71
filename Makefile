# Two commands: `make run` (default pipeline) and `make test` (full test suite).
# Both create .venv if it is missing and install what they need into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= all

.PHONY: run test lint report clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps record what was installed; they are rebuilt when pyproject.toml changes.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

# The test references imagecorruptions and grad-cam (pytorch-grad-cam, with its ttach) are installed
# without their dependencies: both require the GUI build of OpenCV, which would put a second cv2 next to
# opencv-python-headless; everything else they import is already a camsweep dependency.
$(VENV)/.installed-test: $(VENV)/.installed Makefile
	$(BIN)/pip install --quiet -e ".[test]"
	$(BIN)/pip install --quiet --no-deps imagecorruptions==1.1.2 grad-cam==1.5.7 ttach==0.0.3
	touch $@

run: $(VENV)/.installed
	$(BIN)/snakemake --cores $(CORES)

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest

lint: $(VENV)/.installed
	$(BIN)/snakemake --lint

report: $(VENV)/.installed
	$(BIN)/snakemake --report results/report.html

clean:
	rm -rf results .snakemake
