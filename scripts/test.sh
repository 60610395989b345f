#!/usr/bin/env bash
# The whole test suite on a fresh machine: set-up, static checks, then pytest.
# Needs PostgreSQL on 127.0.0.1:5432 (database "test", user postgres) and Mosquitto on 1883.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh --system-test-deps
export PATH="$PWD/.venv/bin:$PATH"

echo "== ruff"; ruff check . && ruff format --check .
echo "== import contracts"; lint-imports
echo "== mypy"; mypy lpr billing einvoice gateway simulator edge tests bench training
echo "== pytest"
# Two workers (the machine has 2 cores; half the serial run's wall time was waiting on
# subprocesses, brokers and databases). --dist loadfile keeps each test file on one worker in
# its order, so module- and package-scoped fixtures (the fault rig, chromium) are set up once.
# Every test is safe in parallel: its own databases, ports, lots, topics and temp dirs.
# PARKING_TEST_WORKERS=0 runs serially.
pytest -n "${PARKING_TEST_WORKERS:-2}" --dist loadfile "$@"
