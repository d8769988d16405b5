#!/usr/bin/env bash
# The project's test command: on a fresh machine with Python 3.11 it creates two virtual
# environments (Blender 5.0 and Blender 4.2 LTS as the bpy module), installs what the tests
# need, and runs them: every test on Blender 5.0, the Blender tests again on 4.2 LTS.
#   bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is needed (the bpy wheels are built for it)"'

venv() {  # venv DIR BPY_VERSION
    if [ ! -x "$1/bin/python" ]; then "$PY" -m venv "$1"; fi
    # every requirement is checked: the quick start's venv (command 1) holds bpy alone
    if ! "$1/bin/python" -c "import importlib.metadata as m, sys; m.version('pytest'), m.version('ruff'); sys.exit(m.version('bpy') != '$2')" 2>/dev/null; then
        "$1/bin/python" -m pip install -q --disable-pip-version-check "bpy==$2" "pytest>=8" "ruff>=0.6"
    fi
}

venv .venv 5.0.1
venv .venv-4.2 4.2.23

echo "== Blender 5.0: all tests" >&2
.venv/bin/python -m pytest "$@"
echo "== Blender 4.2 LTS: the Blender tests and the zip validation" >&2
.venv-4.2/bin/python -m pytest tests/blender tests/test_build.py "$@"
