#!/usr/bin/env bash
# The whole system on embedded defaults: SQLite, in-process MQTT broker, mock tax authority,
# a simulated lot with traffic. Extra arguments go to `parking demo` (e.g. --duration 60).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/parking demo "$@"
