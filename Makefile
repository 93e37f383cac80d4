SHELL := /bin/bash

.PHONY: install demo test test-long test-unit test-kernel lint clean sync-back

install:
	@scripts/install.sh

demo: install
	.venv/bin/taplab demo

test:
	@scripts/install.sh --test
	.venv/bin/ruff check .
	.venv/bin/pytest -q -m "not long"

# The whole scenarios: the demo, every exercise graded, Ryu's own apps, benches, soaks.
test-long:
	@scripts/install.sh --test
	.venv/bin/pytest -q -m long

# Everything that needs no root (no network, no full kernel): under a minute, one
# pytest worker per core.
test-unit:
	.venv/bin/pytest -q -n auto -m "not network and not kernel"

# The tests marked `kernel`, in Debian's own kernel booted in QEMU (results in build/kernel/).
test-kernel:
	@scripts/install.sh --kernel
	@scripts/test-kernel.sh

lint: install
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

clean:
	-.venv/bin/taplab clean

# On the host: copy labs/ and reports/ made in the Vagrant VM back into this checkout.
sync-back:
	@scripts/vagrant-sync-back.sh
