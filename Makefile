# Two commands do all the set-up: `make demo` and `make test` (each builds .venv when needed); `make wheel-demo`
# runs the small demo from the built wheel in a fresh venv, as CI does.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test wheel-demo lint clean-venv

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/cluster-eval demo $(ARGS)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The package as a user gets it: build the wheel, install it into a fresh venv, run the small demo elsewhere.
wheel-demo:
	PYTHON=$(PYTHON) .ci/wheel_demo

clean-venv:
	rm -rf $(VENV)
