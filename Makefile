# `make lab`: set up, start the stack, open JupyterLab on the notebooks.
# `make test`: set up everything on a fresh machine (Debian packages, a virtual environment), then pytest.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup test lab lint proto bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/install-host-deps
	scripts/install-host-deps
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,lab]'
	touch $(STAMP)

test: setup
	$(PY) -m ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

# `make lab LAB_ARGS=--no-browser` on a headless machine: the URL is printed either way.
lab: setup
	$(PY) -m nbext.lab $(LAB_ARGS)

lint: setup
	$(PY) -m ruff check .

proto: setup
	$(PY) scripts/genproto.py

clean:
	rm -rf $(VENV) build *.egg-info
