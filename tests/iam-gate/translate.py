#!/usr/bin/env python3
"""SAM-translates template.yaml offline and writes the IAM gate's "principals" JSON.

Run with the bootstrap's venv (samtranslator comes with aws-sam-cli):

    .tools/venv/bin/python tests/iam-gate/translate.py \
        [--template template.yaml] [--params params.json] [--set Key=Value ...] \
        [--physical names.json] [--account ID] [--region R] [--stack-name S] [--out principals.json]

--params is a JSON object of template parameters (CommaDelimitedList values as a list or a
comma-separated string); --set overrides single ones. Without --params the gate's default set
(tests/iam-gate/fixtures/params.json: every subsystem on, with what each one requires) is used.

--physical maps logical ids to the physical names the test created (e.g. "DataBucket" ->
"sluice-test-bucket-1"), or is the output of `aws cloudformation describe-stack-resources`; a resource not in the map gets its explicit name property when it
has one (FunctionName, DeliveryStreamName, Family, ...), else its logical id lower-cased.

The output (see README.md) holds, for every IAM role of the translated template, its trust
policy and identity policies (inline, and the documents of the AWS managed policies it
attaches, from MANAGED_POLICIES below), the resource policies (bucket policy, Logs destination
policy, Lambda permissions as statements), the task definitions' roles, and the resolved
parameters. Every intrinsic is resolved to concrete strings; conditions are evaluated.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
from pathlib import Path

# samtranslator reads the region from a boto session (never a network call): fix it.
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
os.environ.pop("AWS_PROFILE", None)

from samcli.yamlhelper import yaml_parse
from samtranslator.translator.transform import transform

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent

ACCOUNT = "123456789012"
REGION = "us-east-1"
PARTITION = "aws"
STACK = "sluice-test"

# AWS managed policies the template (or SAM on its behalf) attaches. samtranslator needs a
# name -> ARN map (it would otherwise call iam:ListPolicies); the gate needs the documents.
# Documents as published in the AWS Managed Policy reference (URL beside each), kept to the
# version current when this table was written; bump by hand if AWS publishes a new version.
MANAGED_POLICIES = {
    # https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaBasicExecutionRole.html
    "AWSLambdaBasicExecutionRole": {
        "arn": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        "document": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": "*",
                }
            ],
        },
    },
    # https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonECSTaskExecutionRolePolicy.html
    "AmazonECSTaskExecutionRolePolicy": {
        "arn": "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
        "document": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": [
                        "ecr:GetAuthorizationToken",
                        "ecr:BatchCheckLayerAvailability",
                        "ecr:GetDownloadUrlForLayer",
                        "ecr:BatchGetImage",
                        "logs:CreateLogStream",
                        "logs:PutLogEvents",
                    ],
                    "Resource": "*",
                }
            ],
        },
    },
}


class StaticPolicyLoader:
    """samtranslator's ManagedPolicyLoader, answered from MANAGED_POLICIES (no IAM call)."""

    def load(self) -> dict[str, str]:
        return {name: p["arn"] for name, p in MANAGED_POLICIES.items()}


class NoValue:
    """AWS::NoValue: dropped from the list or mapping holding it."""


NO_VALUE = NoValue()

# Explicit name properties by resource type (the physical name CloudFormation would use).
NAME_PROPS = {
    "AWS::Lambda::Function": "FunctionName",
    "AWS::IAM::Role": "RoleName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::KinesisFirehose::DeliveryStream": "DeliveryStreamName",
    "AWS::Kinesis::Stream": "Name",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
    "AWS::ECS::Cluster": "ClusterName",
    "AWS::ECS::TaskDefinition": "Family",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::Logs::Destination": "DestinationName",
    "AWS::Events::Rule": "Name",
    "AWS::SQS::Queue": "QueueName",
}


class Resolver:
    def __init__(self, cfn: dict, params: dict, physical: dict):
        self.cfn = cfn
        self.params = params
        self.physical = physical
        self.resources = cfn.get("Resources", {})
        self.conditions = cfn.get("Conditions", {})
        self._cond_cache: dict[str, bool] = {}

    # ---- conditions ----
    def condition(self, name: str) -> bool:
        if name not in self._cond_cache:
            self._cond_cache[name] = bool(self.value(self.conditions[name]))
        return self._cond_cache[name]

    def exists(self, logical: str) -> bool:
        res = self.resources.get(logical)
        if res is None:
            return False
        cond = res.get("Condition")
        return cond is None or self.condition(cond)

    # ---- names and ARNs ----
    def name(self, logical: str) -> str:
        if logical in self.physical:
            return self.physical[logical]
        res = self.resources[logical]
        prop = NAME_PROPS.get(res["Type"])
        if prop and prop in res.get("Properties", {}):
            return self.value(res["Properties"][prop])
        return logical.lower()

    def arn(self, logical: str) -> str:
        res = self.resources[logical]
        t, n = res["Type"], self.name(logical)
        if n.startswith("arn:"):
            return n
        p, r, a = PARTITION, REGION, ACCOUNT
        return {
            "AWS::Lambda::Function": f"arn:{p}:lambda:{r}:{a}:function:{n}",
            "AWS::IAM::Role": f"arn:{p}:iam::{a}:role/{n}",
            "AWS::S3::Bucket": f"arn:{p}:s3:::{n}",
            "AWS::KinesisFirehose::DeliveryStream": f"arn:{p}:firehose:{r}:{a}:deliverystream/{n}",
            "AWS::Kinesis::Stream": f"arn:{p}:kinesis:{r}:{a}:stream/{n}",
            "AWS::StepFunctions::StateMachine": f"arn:{p}:states:{r}:{a}:stateMachine:{n}",
            "AWS::ECS::Cluster": f"arn:{p}:ecs:{r}:{a}:cluster/{n}",
            "AWS::ECS::TaskDefinition": f"arn:{p}:ecs:{r}:{a}:task-definition/{n}:1",
            "AWS::Logs::LogGroup": f"arn:{p}:logs:{r}:{a}:log-group:{n}:*",
            "AWS::Logs::Destination": f"arn:{p}:logs:{r}:{a}:destination:{n}",
            "AWS::Events::Rule": f"arn:{p}:events:{r}:{a}:rule/{n}",
            "AWS::SQS::Queue": f"arn:{p}:sqs:{r}:{a}:{n}",
        }.get(t, f"arn:{p}:unknown:{r}:{a}:{logical.lower()}")

    def ref(self, target: str):
        pseudo = {
            "AWS::AccountId": ACCOUNT,
            "AWS::Region": REGION,
            "AWS::Partition": PARTITION,
            "AWS::StackName": STACK,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": f"arn:{PARTITION}:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}/1",
            "AWS::NoValue": NO_VALUE,
        }
        if target in pseudo:
            return pseudo[target]
        if target in self.params:
            return self.params[target]
        t = self.resources[target]["Type"]
        # Ref returns the ARN for these types, the name for the others.
        if t in ("AWS::StepFunctions::StateMachine", "AWS::ECS::TaskDefinition"):
            return self.arn(target)
        return self.name(target)

    def getatt(self, logical: str, attr: str):
        if attr == "Arn":
            return self.arn(logical)
        if attr == "Name":
            return self.name(logical)
        raise ValueError(f"unsupported Fn::GetAtt {logical}.{attr}")

    # ---- values ----
    def value(self, v):
        if isinstance(v, list):
            out = [self.value(x) for x in v]
            return [x for x in out if x is not NO_VALUE]
        if not isinstance(v, dict):
            return v
        if len(v) == 1:
            (k, arg), = v.items()
            if k == "Ref":
                return self.ref(arg)
            if k == "Fn::GetAtt":
                parts = arg.split(".", 1) if isinstance(arg, str) else arg
                return self.getatt(parts[0], parts[1])
            if k == "Fn::If":
                cond, yes, no = arg
                return self.value(yes if self.condition(cond) else no)
            if k == "Condition":
                return self.condition(arg)
            if k == "Fn::Equals":
                a, b = (self.value(x) for x in arg)
                return str(a) == str(b)
            if k == "Fn::And":
                return all(self.value(x) for x in arg)
            if k == "Fn::Or":
                return any(self.value(x) for x in arg)
            if k == "Fn::Not":
                return not self.value(arg[0])
            if k == "Fn::Join":
                sep, items = arg
                items = self.value(items)
                return str(self.value(sep)).join(str(x) for x in items)
            if k == "Fn::Select":
                i, items = arg
                return self.value(items)[int(self.value(i))]
            if k == "Fn::Split":
                sep, s = arg
                return str(self.value(s)).split(self.value(sep))
            if k == "Fn::Sub":
                return self.sub(arg)
        out = {k: self.value(x) for k, x in v.items()}
        return {k: x for k, x in out.items() if x is not NO_VALUE}

    def sub(self, arg):
        if isinstance(arg, str):
            template, extra = arg, {}
        else:
            template, extra = arg[0], {k: self.value(x) for k, x in arg[1].items()}
        out, i = [], 0
        while i < len(template):
            j = template.find("${", i)
            if j < 0:
                out.append(template[i:])
                break
            out.append(template[i:j])
            end = template.index("}", j)
            name = template[j + 2 : end]
            if name.startswith("!"):  # ${!Literal}
                out.append("${" + name[1:] + "}")
            elif name in extra:
                out.append(str(extra[name]))
            elif "." in name:
                logical, attr = name.split(".", 1)
                out.append(str(self.getatt(logical, attr)))
            else:
                val = self.ref(name)
                out.append(",".join(val) if isinstance(val, list) else str(val))
            i = end + 1
        return "".join(out)


def load_params(template: dict, given: dict) -> dict:
    """Template defaults overlaid with `given`; CommaDelimitedList values become lists."""
    out = {}
    for name, spec in template.get("Parameters", {}).items():
        val = given.get(name, spec.get("Default", ""))
        if spec.get("Type") == "CommaDelimitedList":
            if isinstance(val, str):
                val = val.split(",") if val != "" else [""]
        elif isinstance(val, list):
            val = ",".join(val)
        else:
            val = str(val)
        out[name] = val
    unknown = set(given) - set(out)
    if unknown:
        raise SystemExit(f"unknown template parameters: {sorted(unknown)}")
    return out


def sam_params(params: dict) -> dict:
    """Parameters as samtranslator takes them (strings; lists comma-joined), with the pseudo
    parameters fixed so it never looks for a region or account."""
    out = {k: ",".join(v) if isinstance(v, list) else v for k, v in params.items()}
    out.update({"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": PARTITION, "AWS::StackName": STACK})
    return out


def as_doc(policy):
    if isinstance(policy, str):
        return json.loads(policy)
    return policy


class RuleFailed(SystemExit):
    pass


def check_rules(rules: dict, r: "Resolver") -> None:
    """The template's Rules, as CloudFormation checks them before creating anything: a parameter
    set that fails an assertion is refused with its AssertDescription."""
    for name, rule in rules.items():
        if "RuleCondition" in rule and not r.value(rule["RuleCondition"]):
            continue
        for a in rule.get("Assertions", []):
            if not r.value(a["Assert"]):
                raise RuleFailed(f"template rule {name} refuses these parameters: {a.get('AssertDescription', '')}")


def build(template_path: Path, given: dict, physical: dict) -> dict:
    sam = yaml_parse(template_path.read_text())
    # Offline: code is never packaged, and a state machine's definition is read from its file
    # (an inline Definition translates like the packaged DefinitionUri).
    for res in sam.get("Resources", {}).values():
        props = res.get("Properties", {})
        if res.get("Type") == "AWS::Serverless::Function" and isinstance(props.get("CodeUri"), str):
            props["CodeUri"] = "s3://iam-gate-placeholder/code.zip"
        if res.get("Type") == "AWS::Serverless::StateMachine" and isinstance(props.get("DefinitionUri"), str):
            props["Definition"] = json.loads((template_path.parent / props.pop("DefinitionUri")).read_text())
    params = load_params(sam, given)
    cfn = transform(copy.deepcopy(sam), sam_params(params), StaticPolicyLoader())
    r = Resolver(cfn, params, physical)
    check_rules(sam.get("Rules", {}), r)
    managed_by_arn = {p["arn"].replace("arn:aws:", f"arn:{PARTITION}:"): (n, p) for n, p in MANAGED_POLICIES.items()}

    principals: dict[str, dict] = {}
    resource_policies: list[dict] = []
    task_definitions: dict[str, dict] = {}
    used_by: dict[str, list[str]] = {}

    for logical, res in cfn["Resources"].items():
        if not r.exists(logical):
            continue
        props = res.get("Properties", {})
        t = res["Type"]
        # Which resource runs as which role: functions, state machines, task definitions,
        # delivery streams, Logs destinations, rule targets.
        role_refs = []
        if t == "AWS::Lambda::Function":
            role_refs.append(props.get("Role"))
        elif t == "AWS::StepFunctions::StateMachine":
            role_refs.append(props.get("RoleArn"))
        elif t == "AWS::KinesisFirehose::DeliveryStream":
            role_refs.append(props.get("KinesisStreamSourceConfiguration", {}).get("RoleARN"))
        elif t == "AWS::Logs::Destination":
            role_refs.append(props.get("RoleArn"))
        elif t == "AWS::Events::Rule":
            role_refs.extend(tg.get("RoleArn") for tg in props.get("Targets", []))
        elif t == "AWS::ECS::TaskDefinition":
            role_refs.extend([props.get("TaskRoleArn"), props.get("ExecutionRoleArn")])
            task_definitions[r.arn(logical)] = {
                "logicalId": logical,
                "taskRoleArn": r.value(props.get("TaskRoleArn")),
                "executionRoleArn": r.value(props.get("ExecutionRoleArn")),
            }
        for ref in role_refs:
            if isinstance(ref, dict) and "Fn::GetAtt" in ref:
                target = ref["Fn::GetAtt"]
                target = target.split(".")[0] if isinstance(target, str) else target[0]
                used_by.setdefault(target, []).append(logical)

        if t == "AWS::IAM::Role":
            policies = []
            for p in r.value(props.get("Policies", [])):
                policies.append({"name": p["PolicyName"], "policy": as_doc(p["PolicyDocument"])})
            for arn in r.value(props.get("ManagedPolicyArns", [])):
                if arn not in managed_by_arn:
                    raise SystemExit(f"{logical}: managed policy {arn} is not in MANAGED_POLICIES")
                name, mp = managed_by_arn[arn]
                policies.append({"name": name, "managedPolicyArn": arn, "policy": mp["document"]})
            principals[logical] = {
                "arn": r.arn(logical),
                "trust": as_doc(r.value(props["AssumeRolePolicyDocument"])),
                "policies": policies,
            }
        elif t == "AWS::IAM::Policy":
            for role in r.value(props.get("Roles", [])):
                target = next((k for k in principals if r.name(k) == role), None)
                principals.setdefault(target or role, {"policies": []})["policies"].append(
                    {"name": r.value(props["PolicyName"]), "policy": as_doc(r.value(props["PolicyDocument"]))}
                )
        elif t == "AWS::S3::BucketPolicy":
            bucket = r.value(props["Bucket"])
            resource_policies.append(
                {
                    "kind": "s3-bucket",
                    "logicalId": logical,
                    "resources": [f"arn:{PARTITION}:s3:::{bucket}", f"arn:{PARTITION}:s3:::{bucket}/*"],
                    "policy": as_doc(r.value(props["PolicyDocument"])),
                }
            )
        elif t == "AWS::SQS::QueuePolicy":
            # The queues are named by URL (Ref); the statements name them by ARN.
            doc = as_doc(r.value(props["PolicyDocument"]))
            arns = sorted({res for st in doc["Statement"] for res in [st.get("Resource")] if isinstance(res, str)})
            resource_policies.append({"kind": "sqs-queue", "logicalId": logical, "resources": arns, "policy": doc})
        elif t == "AWS::Logs::Destination" and "DestinationPolicy" in props:
            resource_policies.append(
                {
                    "kind": "logs-destination",
                    "logicalId": logical,
                    "resources": [r.arn(logical)],
                    "policy": as_doc(r.value(props["DestinationPolicy"])),
                }
            )
        elif t == "AWS::Lambda::Permission":
            fn = r.value(props["FunctionName"])
            fn_arn = fn if fn.startswith("arn:") else f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:{fn}"
            principal = r.value(props["Principal"])
            stmt = {
                "Sid": logical,
                "Effect": "Allow",
                "Principal": {"Service": principal} if principal.endswith(".amazonaws.com") else {"AWS": principal},
                "Action": r.value(props["Action"]),
                "Resource": fn_arn,
            }
            cond = {}
            if "SourceArn" in props:
                cond.setdefault("ArnLike", {})["AWS:SourceArn"] = r.value(props["SourceArn"])
            if "SourceAccount" in props:
                cond.setdefault("StringEquals", {})["AWS:SourceAccount"] = r.value(props["SourceAccount"])
            if cond:
                stmt["Condition"] = cond
            # One resource policy per function: Lambda merges its permissions into one.
            existing = next(
                (p for p in resource_policies if p["kind"] == "lambda-function" and p["resources"] == [fn_arn]),
                None,
            )
            if existing is None:
                existing = {
                    "kind": "lambda-function",
                    "logicalId": logical,
                    "resources": [fn_arn],
                    "policy": {"Version": "2012-10-17", "Statement": []},
                }
                resource_policies.append(existing)
            existing["policy"]["Statement"].append(stmt)

    for role, users in used_by.items():
        if role in principals:
            principals[role]["usedBy"] = sorted(set(users))

    return {
        "account": ACCOUNT,
        "region": REGION,
        "partition": PARTITION,
        "stackName": STACK,
        "template": str(template_path),
        "parameters": params,
        "principals": dict(sorted(principals.items())),
        "resourcePolicies": resource_policies,
        "taskDefinitions": task_definitions,
    }


def main(argv=None) -> int:
    global ACCOUNT, REGION, STACK
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--template", default=str(ROOT / "template.yaml"))
    ap.add_argument("--params", default=str(HERE / "fixtures" / "params.json"))
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--physical", help="JSON file: logical id -> physical name or ARN")
    ap.add_argument("--out", help="output file (default: stdout)")
    ap.add_argument("--account", help=f"account id (default {ACCOUNT})")
    ap.add_argument("--region", help=f"region (default {REGION})")
    ap.add_argument("--stack-name", help=f"stack name (default {STACK})")
    a = ap.parse_args(argv)
    ACCOUNT = a.account or ACCOUNT
    REGION = a.region or REGION
    STACK = a.stack_name or STACK
    given = json.loads(Path(a.params).read_text()) if a.params else {}
    for kv in a.set:
        k, _, v = kv.partition("=")
        given[k] = v
    physical = json.loads(Path(a.physical).read_text()) if a.physical else {}
    if "StackResources" in physical:  # `aws cloudformation describe-stack-resources` output
        physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in physical["StackResources"]}
    out = json.dumps(build(Path(a.template), given, physical), indent=2, sort_keys=False) + "\n"
    if a.out:
        Path(a.out).write_text(out)
    else:
        sys.stdout.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
