SHELL := /bin/bash

.PHONY: install demo test lint clean

install:
	@scripts/install.sh

demo: install
	.venv/bin/taplab demo

test:
	@scripts/install.sh --test
	.venv/bin/ruff check .
	.venv/bin/pytest -q

lint: install
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

clean:
	-.venv/bin/taplab clean
