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
pytest "$@"
