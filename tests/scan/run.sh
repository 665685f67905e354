#!/usr/bin/env bash
# `make scan`: checkov and cfn-guard on the "everything on" variant of template.yaml, as gates.
#
#   1. tests/scan/everything_on.py writes target/scan/everything-on.json (every subsystem on,
#      SAM-translated, every Condition decided: see that file).
#   2. checkov (cloudformation framework) and cfn-guard (tests/scan/sluice.guard) must report
#      no failure. A finding is fixed in template.yaml or skipped on its resource with a
#      one-line reason (docs/operations.md#scanners); there is no global skip list.
#   3. Self-test: a copy with a bucket stripped of its encryption and public access block, and
#      a role allowed "s3:*", must fail both scanners with the expected check ids, so a gate that passes everything
#      is caught (~10 s).
set -euo pipefail
cd "$(dirname "$0")/../.."

TOOLS=.tools
OUT=target/scan
VARIANT=$OUT/everything-on.json
BROKEN=$OUT/broken.json
RULES=tests/scan/sluice.guard
mkdir -p "$OUT"

checkov() {
  "$TOOLS/checkov/bin/checkov" --framework cloudformation --compact --quiet --skip-download "$@"
}
guard() {
  "$TOOLS/cfn-guard/bin/cfn-guard" validate --rules "$RULES" --output-format single-line-summary "$@"
}

"$TOOLS/venv/bin/python" tests/scan/everything_on.py --out "$VARIANT"

echo "== checkov $("$TOOLS/checkov/bin/checkov" --version)"
checkov -f "$VARIANT"
echo "checkov: no failed check (skips carry their reasons in the template's Metadata.checkov)"

echo "== $("$TOOLS/cfn-guard/bin/cfn-guard" --version)"
guard --show-summary fail --data "$VARIANT"
echo "cfn-guard: every rule of $RULES passes (suppressions in the template's Metadata.guard)"

echo "== self-test: the gates fail on a broken copy"
python3 - "$VARIANT" "$BROKEN" <<'EOF'
import json, sys
t = json.load(open(sys.argv[1]))
r = t["Resources"]
del r["DataBucket"]["Properties"]["BucketEncryption"]
del r["DataBucket"]["Properties"]["PublicAccessBlockConfiguration"]
role = next(v for v in r.values() if v["Type"] == "AWS::IAM::Role" and v["Properties"].get("Policies"))
role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"].append(
    {"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
json.dump(t, open(sys.argv[2], "w"), indent=1)
EOF
expect_failure() {
  local what=$1 id=$2 out rc=0
  shift 2
  out=$("$@" 2>&1) || rc=$?
  if [ "$rc" -eq 0 ] || ! grep -q -- "$id" <<<"$out"; then
    echo "self-test: $what passed a broken template (exit $rc, $id not reported): the gate is not a gate"
    exit 1
  fi
  echo "self-test: $what fails on it with $id, as it must"
}
# (checkov passes a bucket without BucketEncryption: S3 encrypts by default since 2023.)
expect_failure checkov CKV_AWS_53 checkov -f "$BROKEN" --check CKV_AWS_53
expect_failure cfn-guard S3_BUCKET_ENCRYPTED guard --show-summary none --data "$BROKEN"
expect_failure cfn-guard IAM_NO_WILDCARD_ACTIONS guard --show-summary none --data "$BROKEN"
echo "make scan: both scanners pass the template and fail a broken one"
