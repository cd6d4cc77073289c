# `make setup` installs torch only when it is missing, pinned to 2.13.0, from pip's configured
# index: on PyPI that is the default build (with CUDA, several GB). Without a GPU, take the
# CPU-only build from PyTorch's CPU wheel index:  make demo TORCH_INDEX=<that index's URL>
PY ?= python3
TORCH_INDEX ?=
# test processes (pytest-xdist); each runs torch on one thread (conftest.py)
JOBS ?= 2

.PHONY: setup demo test test-fast bench

setup:
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q torch==2.13.0 \
		$(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	@$(PY) -m pip install -q -e ".[test,plot]"

demo: setup
	$(PY) -m tsargen.demo

test: setup
	$(PY) -m pytest -n $(JOBS) README.md tsargen tests

test-fast: setup
	$(PY) -m pytest -n $(JOBS) tests -m "not slow"

bench: setup
	@$(PY) -m pip install -q -e ".[bench]"
	$(PY) -m benchmarks.generation
	$(PY) -m benchmarks.training
	$(PY) -m benchmarks.default_fit
	$(PY) -m benchmarks.forecast
