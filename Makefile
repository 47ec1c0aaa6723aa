# Dockhook. `make run` runs it; `make test` tests it. Both install what they need first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# PostgreSQL leg of the suite: used when set, or when a local server answers (as on CI machines).
TEST_DATABASE_URL ?= $(shell $(PYTHON) scripts/local_postgres.py 2>/dev/null)

.PHONY: run demo test lint e2e-deps install clean

$(BIN)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/python scripts/dev.py

# Everything `make run` starts, plus a demo webhook target and a registry; pushes an image and prints where to look.
demo: install e2e-deps
	$(BIN)/python scripts/demo.py

# The end-to-end tests need Debian's docker-registry and skopeo, and chromium for the browser tests (driven by
# the playwright package, with Debian's browser: Playwright downloads none); install them when apt can.
e2e-deps:
	@if command -v docker-registry >/dev/null && command -v skopeo >/dev/null && command -v chromium >/dev/null; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  echo "installing docker-registry, skopeo and chromium for the end-to-end tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry skopeo chromium >/dev/null) \
	    || echo "apt-get could not install docker-registry/skopeo/chromium; the end-to-end tests will be skipped"; \
	else echo "apt-get unavailable: the end-to-end registry and browser tests will be skipped"; fi

# The suite runs in TEST_WORKERS processes (pytest-xdist; TEST_WORKERS=0: one process). Much of its time is spent
# waiting on real processes, sockets and timers, so more workers than cores still pays. Each worker has its own
# SQLite and PostgreSQL databases, and with REDIS_URL=.../N worker k takes Redis database N-k.
TEST_WORKERS ?= 3
test: install e2e-deps
	TEST_DATABASE_URL="$(TEST_DATABASE_URL)" $(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache

# Benchmarks (bench/README.md): ratios against baselines measured in the same run; PostgreSQL too when
# TEST_DATABASE_URL is set or a local server answers, as for `make test` (`make bench TEST_DATABASE_URL=`: SQLite only).
.PHONY: bench bench-quick bench-soak
bench: install
	TEST_DATABASE_URL="$(TEST_DATABASE_URL)" $(BIN)/python -m bench.run $(BENCH_ARGS)

# One round of everything with small counts: a smoke run (a few minutes), figures not worth quoting.
bench-quick: install
	TEST_DATABASE_URL="$(TEST_DATABASE_URL)" $(BIN)/python -m bench.run --quick $(BENCH_ARGS)

# P5: web and worker RSS over a 10-minute stream of notifications (not in CI). SOAK_ARGS="--minutes 2" for less.
bench-soak: install
	TEST_DATABASE_URL="$(TEST_DATABASE_URL)" $(BIN)/python -m bench.soak $(SOAK_ARGS)

# The fuzzers (tests/fuzz) with a random seed and more examples than `make test` runs; the seed is in the report
# header, and DOCKHOOK_FUZZ_SEED=<seed> runs the same again. `make fuzz FUZZ_EXAMPLES=2000` for a longer run.
FUZZ_EXAMPLES ?= 300
.PHONY: fuzz
fuzz: install
	DOCKHOOK_FUZZ_RANDOM=1 DOCKHOOK_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) TEST_DATABASE_URL="$(TEST_DATABASE_URL)" \
	  $(BIN)/pytest tests/fuzz $(PYTEST_ARGS)
