#!/usr/bin/env bash
# The main job (filled in as the pieces land).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
echo "demo: not yet"
