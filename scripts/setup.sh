#!/usr/bin/env bash
# Prepares a fresh Debian/Ubuntu machine for Pretext, idempotently: system packages when
# missing, npm dependencies when the lockfile changed, the native addon when its sources did.
#   scripts/setup.sh          what running Pretext needs
#   scripts/setup.sh --test   plus what the test suite and benchmarks need (PyTorch for the
#                             interop test and the side-by-side benchmarks, Chromium for
#                             the browser tests)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

if ! command -v node >/dev/null 2>&1 || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "Pretext needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none))." >&2
  echo "Install it from https://nodejs.org or your distribution, then run this again." >&2
  exit 1
fi

packages=(libtorch-dev libopenblas0-pthread libxgboost-dev libsentencepiece-dev libgloo-dev dataset-fashion-mnist g++ make python3)
if [ "${1:-}" = "--test" ]; then
  # python3-torch: PyTorch for the safetensors interop test and the benchmarks, never a
  # runtime dependency.
  # chromium: headless browser for the report rendering test (driven by playwright-core);
  # postgresql: a throw-away server the hub tests start to run its store on PostgreSQL.
  # python3-xgboost, python3-sklearn: the same XGBoost from Python, and scikit-learn's
  # logistic regression, to check that the tabular baselines give what they give;
  # python3-sentencepiece: the same SentencePiece, to check that saved vocabularies load there;
  # python3-onnx: ONNX's own checker for exported encoders.
  packages+=(python3-torch python3-xgboost python3-sklearn python3-sentencepiece python3-onnx chromium postgresql)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Benchmark tables are fetched from Debian packages with `apt-get download` (never installed);
# that needs the package lists.
if [ "${1:-}" = "--test" ] && ! apt-cache show weka >/dev/null 2>&1; then
  say "apt-get update (package lists for the data sources)"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
fi

lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.pretext-lock
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_hash" ]; then
  say "npm ci"
  # onnxruntime-node ships its CPU binaries; its install script would also fetch GPU ones from
  # api.nuget.org, which an offline machine cannot reach: keep the CPU binaries only.
  ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > "$stamp"
fi

# A native addon is rebuilt when it is missing or its sources are newer than it.
build_addon() { # <package folder> <addon file> <workspace> <message>
  local addon="packages/$1/build/Release/$2.node"
  if [ ! -f "$addon" ] || [ -n "$(find "packages/$1/native" "packages/$1/binding.gyp" -newer "$addon" 2>/dev/null)" ]; then
    say "$4"
    npm run build:native --silent --workspace "$3" >/dev/null
  fi
}
build_addon torch pretext_torch @pretext/torch "building the native addon (about a minute)"
build_addon xgboost pretext_xgboost @pretext/xgboost "building the XGBoost binding"
build_addon sentencepiece pretext_sentencepiece @pretext/sentencepiece "building the SentencePiece binding"

# The page also bundles the plain-TypeScript SentencePiece encoder, so its changes rebuild it too.
web=packages/hub/web/dist/index.html
if [ ! -f "$web" ] || [ -n "$(find packages/hub/web/src packages/hub/web/index.html packages/hub/web/vite.config.ts packages/sentencepiece/src/unigram.ts -newer "$web" 2>/dev/null)" ]; then
  say "building the hub web UI"
  npm run -s build:web
fi
