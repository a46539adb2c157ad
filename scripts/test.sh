#!/usr/bin/env bash
# The whole test suite on a fresh machine: set-up, type check, lint, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
npm test
