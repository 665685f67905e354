#!/usr/bin/env python3
"""Writes the "everything on" variant of template.yaml that `make scan` gives the scanners.

Run with the bootstrap's venv (samtranslator comes with aws-sam-cli):

    .tools/venv/bin/python tests/scan/everything_on.py [--params P.json] [--set K=V ...] --out F.json

With every `Enable*` parameter at its default (false) a scanner sees the bucket and nothing
else. This variant takes the IAM gate's parameter set (tests/iam-gate/fixtures/params.json:
every subsystem on, with what each one requires) plus an alarm e-mail, SAM-translates the
template offline (so the roles, rules and permissions SAM generates are scanned too), then
decides every Condition under those parameters: resources that would not be created are
dropped, `Fn::If` is replaced by the branch taken and `AWS::NoValue` removed. `Ref`, `Fn::GetAtt`
and `Fn::Sub` stay as they are (scanners know them), and each parameter's Default becomes the
value used. Resource `Metadata` (the checkov and cfn-guard skips) is kept.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
# The IAM gate's offline translation: one resolver of conditions, not two.
sys.path.insert(0, str(ROOT / "tests" / "iam-gate"))

import translate  # noqa: E402  (tests/iam-gate/translate.py)

# Beyond the gate's set: the optional alarm subscription, so the scanners see it too.
EXTRA_PARAMS = {"AlarmEmail": "ops@example.com"}

DROP = object()


def decide(v, r: "translate.Resolver"):
    """`v` with every Fn::If decided and AWS::NoValue dropped; other intrinsics kept."""
    if isinstance(v, list):
        out = [decide(x, r) for x in v]
        return [x for x in out if x is not DROP]
    if not isinstance(v, dict):
        return v
    if len(v) == 1:
        (k, arg), = v.items()
        if k == "Fn::If":
            cond, yes, no = arg
            return decide(yes if r.condition(cond) else no, r)
        if k == "Ref" and arg == "AWS::NoValue":
            return DROP
    out = {k: decide(x, r) for k, x in v.items()}
    return {k: x for k, x in out.items() if x is not DROP}


def everything_on(template_path: Path, given: dict) -> dict:
    sam = translate.yaml_parse(template_path.read_text())
    # As the gate does offline: code is never packaged; a definition is read from its file.
    for res in sam.get("Resources", {}).values():
        props = res.get("Properties", {})
        if res.get("Type") == "AWS::Serverless::Function" and isinstance(props.get("CodeUri"), str):
            props["CodeUri"] = "s3://scan-placeholder/code.zip"
        if res.get("Type") == "AWS::Serverless::StateMachine" and isinstance(props.get("DefinitionUri"), str):
            props["Definition"] = json.loads((template_path.parent / props.pop("DefinitionUri")).read_text())
    params = translate.load_params(sam, given)
    cfn = translate.transform(copy.deepcopy(sam), translate.sam_params(params), translate.StaticPolicyLoader())
    r = translate.Resolver(cfn, params, {})
    translate.check_rules(sam.get("Rules", {}), r)

    out: dict = {k: v for k, v in cfn.items() if k not in ("Conditions", "Rules", "Resources", "Outputs")}
    out["Parameters"] = copy.deepcopy(cfn.get("Parameters", {}))
    for name, spec in out["Parameters"].items():
        val = params[name]
        spec["Default"] = ",".join(val) if isinstance(val, list) else val
    out["Resources"] = {}
    for logical, res in cfn["Resources"].items():
        if not r.exists(logical):
            continue
        res = {k: v for k, v in res.items() if k != "Condition"}
        out["Resources"][logical] = decide(res, r)
    outputs = {}
    for name, o in cfn.get("Outputs", {}).items():
        if "Condition" in o and not r.condition(o["Condition"]):
            continue
        outputs[name] = decide({k: v for k, v in o.items() if k != "Condition"}, r)
    out["Outputs"] = outputs
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--template", default=str(ROOT / "template.yaml"))
    ap.add_argument("--params", default=str(ROOT / "tests" / "iam-gate" / "fixtures" / "params.json"))
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    given = {**json.loads(Path(args.params).read_text()), **EXTRA_PARAMS}
    for kv in args.set:
        k, _, v = kv.partition("=")
        given[k] = v
    variant = everything_on(Path(args.template), given)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(variant, indent=1) + "\n")
    print(f"everything-on variant: {len(variant['Resources'])} resources -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
