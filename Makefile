# Set-up installs the CPU build of torch only when torch is missing: an unpinned torch would
# pull a multi-GB CUDA build on machines without a local wheel.
PY ?= python3

.PHONY: setup demo test bench

setup:
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q torch==2.13.0
	@$(PY) -m pip install -q -e ".[test,plot]"

demo: setup
	$(PY) -m tsargen.demo

test: setup
	$(PY) -m pytest README.md tsargen tests

bench: setup
	$(PY) -m benchmarks.generation
	$(PY) -m benchmarks.training
	$(PY) -m benchmarks.forecast
