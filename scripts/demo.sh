#!/usr/bin/env bash
# The main job on embedded defaults: set-up, then a short SimCLR pretraining on
# Fashion-MNIST (3 epochs, a few minutes on 2 cores) scored by kNN and a linear probe on
# the frozen encoder, beside the raw-pixel baseline under the same protocol.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
npm run --silent pretext -- pretrain recipes/simclr.yaml --epochs 3 --out runs/demo-simclr "$@"
npm run --silent pretext -- baselines
