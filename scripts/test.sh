#!/usr/bin/env bash
# `make test`: every check CI runs, stage by stage, and a table of each stage's wall time at
# the end (also when a stage fails). Stages can be run alone with their make targets.
set -uo pipefail
cd "$(dirname "$0")/.."

names=()
secs=()
started=$SECONDS

table() {
  local rc=$?
  printf '\n%-16s %8s\n' "stage" "seconds"
  for i in "${!names[@]}"; do
    printf '%-16s %8d\n' "${names[$i]}" "${secs[$i]}"
  done
  printf '%-16s %8d\n' "total" $((SECONDS - started))
  return "$rc"
}
trap table EXIT

stage() {
  local name=$1 t0=$SECONDS rc=0
  shift
  printf '\n== %s: %s\n' "$name" "$*"
  "$@" || rc=$?
  names+=("$name")
  secs+=($((SECONDS - t0)))
  if [ "$rc" -ne 0 ]; then
    echo "make test: stage '$name' failed (exit $rc)"
    exit "$rc"
  fi
}

m() { make --no-print-directory "$@"; }

stage tools        m tools
stage fmt          m fmt-check
stage clippy       m clippy
stage build        m build
stage test-build   m test-build
stage tests        m unit
stage template     m template-check
stage scan         m scan
stage demo         m demo
stage queries      m query-check
stage release      m lambda-build
echo "make test: all checks passed"
