# `make lab`: set up, start the stack, open JupyterLab on the notebooks.
# `make test`: set up everything on a fresh machine (Debian packages, a virtual environment), then pytest.
# The distribution's python3 when it is 3.11 or later and can make a venv (Debian's is built with PGO and LTO:
# every layer is a Python process, and whale-containerd answers ~7% faster on it than on a plain build such
# as pyenv's); else whatever python3 is first on PATH.
PYTHON ?= $(shell for p in /usr/bin/python3 python3; do \
	$$p -c 'import sys, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup compile test lab lint proto bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/install-host-deps
	scripts/install-host-deps
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# compat: a plain path in a .pth file. The default editable finder hook costs every Python
	# process ~25 ms at start-up, and a container start runs half a dozen of ours.
	$(PY) -m pip install -q -e '.[test,lab]' --config-settings editable_mode=compat
	touch $(STAMP)

# Bytecode compiled ahead: every layer is a short-lived Python process, and with
# PYTHONDONTWRITEBYTECODE set (as here) each one would compile its modules again.
compile: setup
	$(PY) -m compileall -q corelib nbext > /dev/null

test: setup compile
	$(PY) -m ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

# `make lab LAB_ARGS=--no-browser` on a headless machine: the URL is printed either way.
lab: setup compile
	$(PY) -m nbext.lab $(LAB_ARGS)

lint: setup
	$(PY) -m ruff check .

proto: setup
	$(PY) scripts/genproto.py

clean:
	rm -rf $(VENV) build *.egg-info
