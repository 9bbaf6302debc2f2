#!/usr/bin/env bash
# Sets up everything Lamina needs on a fresh Debian/Ubuntu machine, idempotently:
#   - a virtualenv in .venv with Lamina and its development tools (re-installed when
#     pyproject.toml changes);
#   - with --browser: Debian's Chromium, which the browser tests drive through Playwright.
# Used by `make run` and `make test`; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if ! command -v "$python" >/dev/null; then
  echo "Lamina needs Python 3.11 or newer ($python not found)." >&2
  exit 1
fi
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "Lamina needs Python 3.11 or newer; $python is $("$python" --version)." >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  echo "Creating the virtualenv in .venv"
  "$python" -m venv .venv
fi
stamp=.venv/.lamina-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "Installing Lamina and its tools into .venv"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[dev]"
  touch "$stamp"
fi

if [ "${1:-}" = "--browser" ] && [ ! -x /usr/bin/chromium ]; then
  echo "Installing Debian's chromium for the browser tests"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
