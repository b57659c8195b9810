# Two commands do all the set-up: `make demo` and `make test` (each builds .venv when needed); `make wheel-demo`
# runs the small demo from the built wheel in a fresh venv, as CI does.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test wheel-demo docs lint clean-venv

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,docs,spark,pdf]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/cluster-eval demo $(ARGS)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The package as a user gets it: build the wheel, install it into a fresh venv, run the small demo elsewhere.
wheel-demo:
	PYTHON=$(PYTHON) .ci/wheel_demo

# The API reference, the guides and the example notebooks as HTML in outputs/docs (warnings are errors).
# Example notebooks executed by `make test` are reused (tests/test_examples.py); others run during the build.
docs: $(STAMP)
	$(BIN)/python -m sphinx -W --keep-going -q -b html -d outputs/.doctrees docs outputs/docs
	@echo "docs: outputs/docs/index.html"

clean-venv:
	rm -rf $(VENV)
