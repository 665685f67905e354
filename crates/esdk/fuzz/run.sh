#!/usr/bin/env bash
# Fuzzes sluice_esdk::decrypt for a bounded time, seeded from the good fixtures.
#
#   crates/esdk/fuzz/run.sh [seconds]     (default 60)
#
# Installs cargo-fuzz into <repo>/.tools/cargo when missing; needs the nightly toolchain.
# Corpus and crash artifacts land in crates/esdk/fuzz/{corpus,artifacts}/ (git-ignored).
set -euo pipefail

SECONDS_TO_RUN="${1:-60}"
FUZZ_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ESDK_DIR="$(dirname "$FUZZ_DIR")"
ROOT="$(cd "$ESDK_DIR/../.." && pwd)"
TOOLS="$ROOT/.tools/cargo"
export PATH="$TOOLS/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR_FUZZ:-$FUZZ_DIR/target}"

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "[fuzz] installing cargo-fuzz into $TOOLS" >&2
  cargo install cargo-fuzz --locked --root "$TOOLS"
fi

corpus="$FUZZ_DIR/corpus/decrypt"
mkdir -p "$corpus" "$FUZZ_DIR/artifacts/decrypt"
# Seed with every good fixture (libFuzzer keeps what it learns in the corpus between runs).
python3 - "$ESDK_DIR/fixtures/manifest.json" "$corpus" <<'PY'
import json, os, shutil, sys
manifest, corpus = sys.argv[1], sys.argv[2]
base = os.path.dirname(manifest)
for f in json.load(open(manifest))["fixtures"]:
    if f["outcome"] == "ok" and os.path.getsize(os.path.join(base, f["file"])) <= 65536:
        shutil.copyfile(os.path.join(base, f["file"]), os.path.join(corpus, os.path.basename(f["file"])))
PY

cd "$FUZZ_DIR"
exec cargo +nightly fuzz run decrypt "$corpus" -- \
  -max_total_time="$SECONDS_TO_RUN" \
  -max_len=65536 \
  -timeout=10 \
  -rss_limit_mb=2048 \
  -print_final_stats=1
