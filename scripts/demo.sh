#!/usr/bin/env bash
# The main job on embedded defaults: set-up, then the demo training run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
npm run --silent demo -- "$@"
