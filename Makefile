# Two entry points for users: `make demo` and `make test`. Everything else is for developers.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.causalppl-installed
TORCH  ?= torch==2.13.0
# Pytest workers: the CI machine has 2 cores.
export HYPOTHESIS_PROFILE ?= ci
export PYTHONHASHSEED = 0

.PHONY: demo test test-slow test-kernels bench docs lint setup clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	@# A bare `torch` from the index is a multi-GB CUDA build: pin the CPU wheel when none is present.
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e ".[test,docs]"
	@# `dot` is a system package; everything that only needs DOT source works without it.
	@command -v dot >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && (apt-get update -qq && apt-get install -y -qq graphviz >/dev/null) \
	  || echo "note: graphviz 'dot' not installed; rendering falls back to DOT source"; }
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/causalppl demo

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider

test-slow: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider -m slow

test-kernels: $(STAMP)
	CAUSALPPL_KERNELS=interpret $(PY) -m pytest -q -p no:cacheprovider -m "interpreter" kernels tests

bench: $(STAMP)
	$(VENV)/bin/causalppl bench all

docs: $(STAMP)
	$(VENV)/bin/sphinx-build -W --keep-going -b html docs docs/_build/html

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) build *.egg-info docs/_build .pytest_cache .hypothesis
