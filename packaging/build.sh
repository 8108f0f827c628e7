#!/usr/bin/env bash
# Build the one-folder desktop bundle: dist/textdifuse-desktop/
#
#   packaging/build.sh            # uses ./.venv if present, else python3 on PATH
#   PYTHON=/path/python packaging/build.sh
#   packaging/build.sh --smoke    # also runs the bundled CLI once as a check
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-}"
if [[ -z "$PYTHON" ]]; then
    if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi

if ! "$PYTHON" -c "import PyInstaller" 2>/dev/null; then
    echo "PyInstaller is missing: $PYTHON -m pip install 'pyinstaller>=6'" >&2
    exit 2
fi
if [[ ! -f resources/icons/textdifuse.png ]]; then
    QT_QPA_PLATFORM=offscreen "$PYTHON" packaging/render_icon.py
fi

"$PYTHON" -m PyInstaller --noconfirm --clean \
    --distpath "$ROOT/dist" --workpath "$ROOT/build/pyinstaller" \
    packaging/textdifuse.spec

APP="$ROOT/dist/textdifuse-desktop"
cp packaging/../resources/textdifuse.desktop "$APP/" 2>/dev/null || true
echo "Built $APP ($(du -sh "$APP" | cut -f1))"

if [[ "${1:-}" == "--smoke" ]]; then
    "$APP/textdifuse-desktop" --help >/dev/null
    echo "Smoke test passed: the bundled CLI starts."
fi
