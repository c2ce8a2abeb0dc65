#!/usr/bin/env bash
# Builds hook.wasm from hook/app.py with componentize-py (pip install componentize-py).
set -euo pipefail
cd "$(dirname "$0")"
componentize-py -d wit -w template-hooks componentize app -p hook -o hook.wasm
