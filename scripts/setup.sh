#!/usr/bin/env bash
# Sets up everything Lamina needs on a fresh Debian/Ubuntu machine, idempotently:
#   - a virtualenv in .venv with Lamina's server, its C decoder and the development
#     tools, at the versions constraints.txt pins (re-installed when pyproject.toml,
#     setup.py, constraints.txt or the C decoder changes);
#   - with --test, what only the tests need: .venv-compat with the other SDKs the
#     compatibility tests run (lmnr, traceloop-sdk), the TypeScript SDK's npm packages
#     (npm ci in sdk-js), Laminar's TypeScript SDK (npm ci in tests/compat/lmnr-js), and
#     Debian's Chromium (the browser tests drive it through
#     Playwright).
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
# The OTLP wire decoder is C (src/lamina/otlp/_wire.c), built by the install: a C
# compiler and Python's headers must be there (Debian: gcc; pyenv and python.org
# builds carry their headers, Debian's python3 needs python3-dev).
if ! command -v gcc >/dev/null && ! command -v cc >/dev/null; then
  echo "Installing Debian's gcc to build Lamina's OTLP decoder"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq gcc >/dev/null
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ setup.py -nt "$stamp" ] \
  || [ constraints.txt -nt "$stamp" ] || [ src/lamina/otlp/_wire.c -nt "$stamp" ]; then
  echo "Installing Lamina and its tools into .venv"
  .venv/bin/python -m pip install --quiet --upgrade pip -c constraints.txt
  # The server, its C decoder (built only on request: see setup.py) and the tools.
  LAMINA_BUILD_DECODER=1 .venv/bin/python -m pip install --quiet -e ".[server,dev]" \
    -c constraints.txt --build-constraint constraints.txt
  touch "$stamp"
fi

# Lamina's own modules as bytecode: an editable install compiles none, and where
# PYTHONDONTWRITEBYTECODE is set (this machine sets it) every process that imports them
# (a server, its decoders, a CLI command) compiled them again: 0.2 s a server start.
# Only the modules changed since are compiled again (docs/decisions.md).
.venv/bin/python -m compileall -q src/lamina

# Everything below is for the tests only (`scripts/setup.sh --test`, run by `make test`).
if [ "${1:-}" != "--test" ]; then
  exit 0
fi

# The other SDKs the compatibility tests run (tests/compat/), in a virtualenv of their
# own: lmnr and traceloop-sdk pin OpenTelemetry packages older than Lamina's (see the
# requirements file for why). Every package is pinned there, so no resolving.
compat=.venv-compat
compat_requirements=tests/compat/requirements-compat.txt
if [ ! -f "$compat/.installed" ] || [ "$compat_requirements" -nt "$compat/.installed" ]; then
  echo "Installing the SDKs of the compatibility tests into $compat"
  [ -x "$compat/bin/python" ] || "$python" -m venv "$compat"
  "$compat/bin/python" -m pip install --quiet --no-deps -r "$compat_requirements"
  touch "$compat/.installed"
fi

# The TypeScript SDK (sdk-js/): Node.js, and its packages exactly as package-lock.json
# lists them. Its tests build it and run under pytest (tests/compat/test_sdk_js.py).
if ! command -v npm >/dev/null; then
  echo "Installing Debian's nodejs and npm for the TypeScript SDK"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nodejs npm >/dev/null
fi
if [ ! -f sdk-js/node_modules/.package-lock.json ] \
  || [ sdk-js/package-lock.json -nt sdk-js/node_modules/.package-lock.json ]; then
  echo "Installing the TypeScript SDK's packages (npm ci in sdk-js)"
  (cd sdk-js && npm ci --no-audit --no-fund --loglevel=error)
fi

# Laminar's own TypeScript SDK (@lmnr-ai/lmnr), exactly as tests/compat/lmnr-js/
# package-lock.json pins it (tests/compat/test_laminar_js.py). --ignore-scripts: of its
# packages only esbuild (its CLI's bundler: the binary comes in @esbuild/linux-x64, an
# optional dependency, and the script only checks it) and protobufjs (a version check)
# have install scripts; nothing is fetched but the npm packages the lock lists. The lock was completed by hand with the platform builds of
# @lmnr-ai/claude-code-proxy (an optional dependency) that the registry answered 404
# for (darwin, win32, linux arm64): npm ci refuses a lock without every optional
# package, and skips those of other platforms without fetching them.
if [ ! -f tests/compat/lmnr-js/node_modules/.package-lock.json ] \
  || [ tests/compat/lmnr-js/package-lock.json -nt tests/compat/lmnr-js/node_modules/.package-lock.json ]; then
  echo "Installing Laminar's TypeScript SDK for the compatibility tests (npm ci in tests/compat/lmnr-js)"
  (cd tests/compat/lmnr-js && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi

if [ ! -x /usr/bin/chromium ]; then
  echo "Installing Debian's chromium for the browser tests"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
