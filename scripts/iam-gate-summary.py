#!/usr/bin/env python3
"""Sums the IAM gate's running totals of every test binary (target/iam-gate/<pid>.json, written
by tests/iam-gate/gate.mjs for crates/testbed/src/iam_gate.rs) into the one line `make test`
prints, and fails if any denial was not meant by its test (each test fails on its own first;
this is the last word for a denial nobody took).

Usage: iam-gate-summary.py [DIR]   (default target/iam-gate)
"""

import json
import sys
from pathlib import Path

folder = Path(sys.argv[1] if len(sys.argv) > 1 else "target/iam-gate")
runs = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []
if not runs:
    print(f"iam-gate: no test binary went through the gate ({folder} is empty)")
    sys.exit(1)
requests = sum(r["requests"] for r in runs)
evaluations = sum(r["evaluations"] for r in runs)
denials = sum(r["denials"] for r in runs)
expected = sum(r.get("expectedDenials", 0) for r in runs)
principals = sorted({p for r in runs for p in r["principals"]})
binaries = sorted({r["binary"].rsplit("-", 1)[0] for r in runs})
print(
    f"iam-gate: {requests} requests, {evaluations} evaluations, {len(principals)} principals, "
    f"{denials} denials ({expected} more meant by tests that assert a refusal; "
    f"{len(runs)} gate processes in {len(binaries)} test binaries: {', '.join(binaries)})"
)
print(f"iam-gate principals: {', '.join(principals)}")
sys.exit(1 if denials else 0)
