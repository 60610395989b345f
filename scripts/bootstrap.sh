#!/usr/bin/env bash
# Create .venv and install the project with everything it needs. Safe to run again: it only
# reinstalls when pyproject.toml changed. Usage: scripts/bootstrap.sh [--system-test-deps]
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv"
  "$PY" -m venv .venv
fi

stamp=.venv/.parking-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "== installing Python packages (first time: a few minutes)"
  .venv/bin/pip install -q --upgrade pip wheel setuptools
  # torch and torchvision first and pinned: pip takes them from the machine's local wheels
  # (CPU inference only); an unpinned torch would pull several GB.
  .venv/bin/pip install -q torch==2.14.1 torchvision==0.29.1
  .venv/bin/pip install -q -e '.[all,dev]'
  echo "$want" > "$stamp"
fi

if [ "${1:-}" = "--system-test-deps" ]; then
  # Debian packages the tests use: xmlsec1 (independent XML-DSig verifier), chromium (browser
  # tests through Playwright, which cannot download its own browser here), mosquitto (broker
  # binary for tests that run their own configuration), ffmpeg and rtsp-server-perl (a local
  # RTSP camera for the edge's stream reader: ffmpeg publishes a generated clip into the
  # server, which the reader plays like a camera's stream), npm (axe-core for the browser
  # tests' accessibility checks, from the npm registry; the tests serve it to the page).
  need=()
  command -v xmlsec1 >/dev/null || need+=(xmlsec1)
  [ -x /usr/bin/chromium ] || need+=(chromium)
  command -v mosquitto >/dev/null || need+=(mosquitto)
  command -v ffmpeg >/dev/null || need+=(ffmpeg)
  command -v rtsp-server-perl >/dev/null || need+=(rtsp-server-perl)
  command -v npm >/dev/null || need+=(npm)
  if [ ${#need[@]} -gt 0 ]; then
    echo "== installing Debian packages: ${need[*]}"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  axe=tests/e2e/browser/axe
  if [ ! -f "$axe/node_modules/axe-core/axe.min.js" ]; then
    echo "== installing axe-core (npm) for the browser tests"
    (cd "$axe" && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
