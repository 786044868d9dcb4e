# The bundle's entry points. `make demo` sets up and deploys to the local testbed; `make test`
# runs every test tier that needs no inventory of yours (unit, then e2e on the testbed).
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= python3
INVENTORY ?= inventories/testbed.py
TOPOLOGY ?= single
# The testbed hosts' Debian release: bookworm or trixie.
SUITE ?= bookworm

# Debian packages the control machine needs: the testbed's tools (it also installs them itself
# when missing), OpenSSH for pyinfra's and testinfra's connections, Node.js to build the bundled
# Prisma engine (npm comes with it or as Debian's `npm`), PostgreSQL and OpenSSL for the
# integration tests' throwaway database, Redis for their throwaway LiteLLM proxy, Chromium, its
# driver and NSS's certutil (to trust the edge's CA) for the admin UI checks, nmap for the edge's
# port scan, Caddy to check the edge's rendered Caddyfile, Debian's Docker engine and CLI for the
# dev target (make dev starts the engine itself when none runs; Compose v2 comes hash-pinned from
# compose/compose-v2.lock), curl for the guide's requests.
SYSTEM_PACKAGES := debootstrap systemd-container nftables iproute2 util-linux openssh-client \
	nodejs postgresql openssl redis-server chromium chromium-driver libnss3-tools nmap caddy \
	docker.io curl

.PHONY: setup system-deps test test-unit test-integration test-e2e lint format verify deploy demo demo-down \
	testbed-up testbed-down testbed-status test-mixed-releases test-upgrade-drill dev dev-deps dev-down dev-purge bench bench-litellm bench-litellm-configs bench-seed bench-edge lock lock-litellm lock-saas-api

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements.lock
	touch $@

system-deps:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
		| grep -q 'install ok installed' || echo $$p; done); \
	command -v npm >/dev/null || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			--no-install-recommends $$missing; fi

# The engine's npm packages in engine/ for the integration tests (deploys use their own copy,
# installed from the same lockfile into ~/.cache/gateway-bundle/engine/).
ENGINE_MODULES := engine/node_modules/.package-lock.json

$(ENGINE_MODULES): engine/package-lock.json
	cd engine && npm ci --ignore-scripts --no-audit --no-fund --omit=dev
	touch $@

# pytest exits 5 when it collected no test; that is reported, not turned into a make error.
# The slowest tests are listed at the end: the run must stay well inside CI's time limit.
test: setup system-deps $(ENGINE_MODULES)
	@$(BIN)/pytest --durations=25 tests/unit tests/integration tests/e2e; status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests"; exit 0; fi; \
	exit $$status

# On request (not in `make test`: ~15 min): the split testbed with db, cache and backup on
# bookworm and the rest on trixie, deployed twice and verified (tests/drills/).
test-mixed-releases: setup system-deps
	$(BIN)/pytest -s tests/drills/test_mixed_releases.py

# On request: the upgrade drill with both steps, to a release new to the hosts and back to the
# kept one (`make test` runs the first; ~12 min with the split testbed's first deploy).
test-upgrade-drill: setup system-deps
	UPGRADE_DRILL_STEPS=both $(BIN)/pytest -s tests/e2e/test_litellm_upgrade.py

test-unit: setup
	$(BIN)/pytest tests/unit

test-integration: setup system-deps $(ENGINE_MODULES)
	$(BIN)/pytest tests/integration

test-e2e: setup system-deps
	$(BIN)/pytest tests/e2e

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Verify any inventory's deployed state: make verify INVENTORY=inventories/prod.py
verify: setup
	$(BIN)/pytest tests/verify --inventory $(INVENTORY)

deploy: setup
	$(BIN)/pyinfra -y $(INVENTORY) deploy.py

testbed-up: setup system-deps
	$(BIN)/python -m testbed up --topology $(TOPOLOGY) --suite $(SUITE)

testbed-down: setup
	$(BIN)/python -m testbed down --purge

testbed-status: setup
	$(BIN)/python -m testbed status

# The newcomer's one command: a testbed (TOPOLOGY=single|split, SUITE=bookworm|trixie), the
# deploy with the example seed on the fake provider, its verification, the guide's Step 4 through
# the edge (scripts/demo.py).
demo: testbed-up
	$(BIN)/python scripts/demo.py
	$(BIN)/python -m testbed status

demo-down: testbed-down

# The local docker-compose dev target (scripts/dev.py): the stack on localhost (8002, 8003), the
# example seed on the fake provider, the guide's Step 4. dev-down keeps the data, dev-purge not.
dev: setup dev-deps
	$(BIN)/python scripts/dev.py up

# What make dev needs besides Python: a Docker CLI and engine (Docker Desktop's, or Debian's
# docker.io, which make dev starts itself where none runs), curl, and debootstrap for a base
# image where no registry has one. Installed on a Debian machine as root; elsewhere (a laptop
# with Docker Desktop) nothing is installed.
DEV_PACKAGES := docker.io curl debootstrap

dev-deps:
	@if command -v dpkg-query >/dev/null && [ "$$(id -u)" = 0 ]; then \
		missing=$$(for p in $(DEV_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
			| grep -q 'install ok installed' || echo $$p; done); \
		if [ -n "$$missing" ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -q --no-install-recommends $$missing; fi; fi

dev-down: setup
	$(BIN)/python scripts/dev.py down

dev-purge: setup
	$(BIN)/python scripts/dev.py purge

# Timings for the closing notes: make bench [BENCH_ARGS="--skip-cold --topology split"]
bench: setup system-deps
	$(BIN)/python scripts/bench_testbed.py $(BENCH_ARGS)

# LiteLLM vs its provider, and its cold start: make bench-litellm [BENCH_ARGS="--skip-cold"]
bench-litellm: setup
	$(BIN)/python scripts/bench_litellm.py $(BENCH_ARGS)

# Our LiteLLM config vs the setup guide's vs LiteLLM's defaults, side by side on one llm host
bench-litellm-configs: setup
	$(BIN)/python scripts/bench_litellm_configs.py $(BENCH_ARGS)

# Seeding at scale: BENCH_ARGS="--teams 1000 --provider-url http://<fake provider>:9999/v1"
bench-seed: setup
	$(BIN)/python scripts/bench_seed.py $(BENCH_ARGS)

# A team-key chat completion through the edge vs LiteLLM vs the provider (after make demo)
bench-edge: setup
	$(BIN)/python scripts/bench_edge.py $(BENCH_ARGS)

# Re-resolve the hash-locked LiteLLM requirements pushed to llm hosts.
lock-litellm: setup
	$(BIN)/pip install --quiet pip-tools==7.6.2
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
		--no-emit-index-url --no-emit-find-links \
		-o bundle/requirements/litellm.lock bundle/requirements/litellm.in

# Re-resolve the hash-locked SaaS API dependencies pushed to api hosts.
lock-saas-api: setup
	$(BIN)/pip install --quiet pip-tools==7.6.2
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
		--no-emit-index-url --no-emit-find-links \
		-o bundle/requirements/saas_api.lock bundle/requirements/saas_api.in

# Re-resolve requirements.lock (hashes included) from requirements.in.
lock:
	$(BIN)/pip install --quiet pip-tools==7.6.2
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
		--no-emit-index-url --no-emit-find-links -o requirements.lock requirements.in
