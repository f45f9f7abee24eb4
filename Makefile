# The two commands a fresh machine needs: `make up` and `make test`. See README.md.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := $(PYTHON) -m uv
# Use the machine's Python 3.11; never download an interpreter.
export UV_PYTHON_DOWNLOADS := never

# $(call apt_install,PACKAGES): apt-get install what is listed (nothing when it is empty), as
# root; otherwise say what to install.
define apt_install
missing="$(strip $(1))"; \
if [ -n "$${missing// /}" ]; then \
  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
  else \
    echo "make: install $$missing (e.g. apt-get install $$missing)" >&2; exit 1; \
  fi; \
fi
endef

.PHONY: help prerequisites browser install up down status test lint typecheck bench bench-scale contract tools

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

prerequisites: ## install Java 17 and Maven with apt-get when they are missing (as root)
	@$(call apt_install,$$(command -v java >/dev/null || echo openjdk-17-jre-headless) $$(command -v mvn >/dev/null || echo maven))

browser: ## install Debian's Chromium for the browser tests when it is missing (as root)
	@$(call apt_install,$$(command -v chromium >/dev/null || echo chromium))

install: ## install uv if missing, then every Python dependency from uv.lock
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	@$(UV) sync --frozen --quiet

up: prerequisites install ## start Kafka, PostgreSQL, the three services and the web front on 127.0.0.1
	@$(UV) run --frozen overgang stack up --services

down: install ## stop everything `make up` started
	@$(UV) run --frozen overgang stack down

status: install ## say what runs, and where
	@$(UV) run --frozen overgang stack status

lint: install ## ruff: lint and formatting
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .

typecheck: install ## mypy, strict
	$(UV) run --frozen mypy

test: prerequisites browser lint typecheck contract tools ## lint, type-check and run every test on a real Kafka and PostgreSQL
	$(UV) run --frozen pytest

bench: prerequisites install ## stack start-up, outbox relay, inbox consumer, filing, audit, webhook deliveries and end-to-end latency, each beside a baseline; figures in bench/results/
	$(UV) run --frozen python -m bench.foundation
	$(UV) run --frozen python -m bench.backbone
	$(UV) run --frozen python -m bench.filing
	$(UV) run --frozen python -m bench.audit_ingest
	$(UV) run --frozen python -m bench.notifier
	$(UV) run --frozen python -m bench.e2e

# The sizes bench-scale measures, in referrals (one run each; the audit log gets about ten
# events per referral). Issue 11 asks for 100000 and 1000000: the latter takes hours on this
# machine; stopped, the same command goes on where it stopped. SCALE_FLAGS=--keep keeps the
# generated data after measuring (to measure again without generating).
SCALE_SIZES ?= 10000
SCALE_FLAGS ?=

bench-scale: prerequisites install ## not in make test: national synthetic data (bench/generate.py) through the real paths, then the worklist, timeline, statistics, verify, deadline scan and cold starts at each of SCALE_SIZES referrals (resumable); figures in bench/results/scale.json
	@for referrals in $(SCALE_SIZES); do \
	  $(UV) run --frozen python -m bench.scale --referrals $$referrals $(SCALE_FLAGS) || exit 1; \
	done

contract: ## check the AsyncAPI document with the AsyncAPI parser (npm, Node 20)
	@npm ci --prefix schemas/conformance --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
	@node schemas/conformance/check-asyncapi.mjs schemas/asyncapi.json

tools: ## promtool, for the alert rules' tests: from Debian's prometheus package, unpacked into var/tools (no service installed)
	@test -x var/tools/promtool || { \
	  rm -rf var/tools/deb && mkdir -p var/tools/deb && cd var/tools/deb && \
	  { apt-get download prometheus >/dev/null 2>&1 || \
	    { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get download prometheus >/dev/null; } || \
	    { echo "make: cannot download Debian's prometheus package (for promtool); run 'apt-get update' as root" >&2; exit 1; }; } && \
	  dpkg-deb -x prometheus_*.deb unpacked && cp unpacked/usr/bin/promtool ../promtool && \
	  cd .. && rm -rf deb; }
