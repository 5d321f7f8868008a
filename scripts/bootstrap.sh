# Shared by run-app and run-tests: make .venv and install the project when pyproject.toml changed.
# Usage: source scripts/bootstrap.sh [extra]   (extra = "dev" to install the test tools too)
set -euo pipefail
_extra="${1:-}"
PYTHON_BIN="${PYTHON:-python3}"
if ! "$PYTHON_BIN" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "blastadmin needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)." >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv"
    "$PYTHON_BIN" -m venv .venv
fi
_spec="."
[ -n "$_extra" ] && _spec=".[$_extra]"
_stamp=".venv/.installed-${_extra:-runtime}"
_hash=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$_stamp" ] || [ "$(cat "$_stamp")" != "$_hash" ]; then
    echo "==> installing $_spec into .venv"
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e "$_spec"
    echo "$_hash" > "$_stamp"
fi
