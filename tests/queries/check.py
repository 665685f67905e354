#!/usr/bin/env python3
"""`make query-check`: the template's Glue tables and Athena named queries, held to the demo's output.

For every AWS::Glue::Table in template.yaml (parameters as the demo runs, see DEMO_PARAMETERS):
  - every file the demo left under the table's location must sit at a path its partition
    projection produces (enum values listed, integers in range and zero-padded as `digits` says):
    a path the projection does not produce is data Athena never reads, and fails the check;
  - its JSON lines are loaded into DuckDB as the OpenX JSON SerDe reads them (keys matched
    case-insensitively, `mapping.<column>` honoured, values cast to the Glue types).
Every AWS::Athena::NamedQuery is then parsed as Trino SQL (Athena engine v3) with sqlglot,
transpiled to DuckDB and run with the parameters in expected.json; its rows must equal the ones
listed there, which the demo's events imply (tests/demo/src/*.rs).

Run with the venv the bootstrap makes: .tools/query/bin/python tests/queries/check.py
"""
import argparse
import datetime
import gzip
import json
import pathlib
import re
import sys

import duckdb
import sqlglot
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]

# The stack as the demo runs it: the parameters its scenarios use and the bucket each writes to.
DEMO_PARAMETERS = {
    "AWS::StackName": "sluice-demo",
    "AWS::AccountId": "123456789012",
    "AWS::Region": "us-east-1",
    "AWS::Partition": "aws",
    "EnableActivityStreamAudit": "true",
    "DasResourceId": "cluster-ACMEDEMO0001",
    "EnableCloudWatchLogsExport": "true",
    "CwlOutputFormat": "jsonl",
}
# Physical names of the resources a table's location names: the demo writes what the delivery
# streams would have written to the stack's data bucket under target/demo-output/data-bucket/.
DEMO_RESOURCES = {"DataBucket": "data-bucket"}


class Cfn(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags (!Ref, !Sub, ...) as their long forms."""


def _tag(loader, suffix, node):
    name = "Ref" if suffix == "Ref" else "Condition" if suffix == "Condition" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


Cfn.add_multi_constructor("!", _tag)


class Stack:
    """Just enough of CloudFormation's intrinsic functions to resolve names and query text."""

    def __init__(self, template):
        self.t = template
        self.params = {}
        for k, v in template.get("Parameters", {}).items():
            default = str(v.get("Default", ""))
            listed = v["Type"] == "CommaDelimitedList" or v["Type"].startswith("List<")
            self.params[k] = default.split(",") if listed else default
        self.params.update(DEMO_PARAMETERS)

    def condition(self, name):
        return bool(self.eval(self.t["Conditions"][name]))

    def physical(self, logical):
        if logical in self.params:
            return self.params[logical]
        if logical in DEMO_RESOURCES:
            return DEMO_RESOURCES[logical]
        res = self.t["Resources"][logical]
        props = res.get("Properties", {})
        if res["Type"] == "AWS::Glue::Database":
            return self.eval(props["DatabaseInput"]["Name"])
        if res["Type"] == "AWS::Glue::Table":
            return self.eval(props["TableInput"]["Name"])
        raise KeyError(f"no physical name for {logical} ({res['Type']}): add it to DEMO_RESOURCES")

    def sub(self, text, extra):
        def one(m):
            name = m.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in extra:
                return str(self.eval(extra[name]))
            return str(self.physical(name))
        return re.sub(r"\$\{([^}]+)\}", one, text)

    def eval(self, v):
        if isinstance(v, list):
            return [self.eval(x) for x in v]
        if not isinstance(v, dict) or len(v) != 1:
            return {k: self.eval(x) for k, x in v.items()} if isinstance(v, dict) else v
        (fn, arg), = v.items()
        if fn == "Ref":
            return self.physical(arg)
        if fn == "Fn::Sub":
            return self.sub(arg, {}) if isinstance(arg, str) else self.sub(arg[0], arg[1])
        if fn == "Fn::Join":
            return arg[0].join(str(x) for x in self.eval(arg[1]))
        if fn == "Fn::If":
            return self.eval(arg[1] if self.condition(arg[0]) else arg[2])
        if fn == "Fn::Equals":
            a, b = self.eval(arg)
            return str(a) == str(b)
        if fn == "Fn::Not":
            return not self.eval(arg[0])
        if fn == "Fn::And":
            return all(self.eval(x) for x in arg)
        if fn == "Fn::Or":
            return any(self.eval(x) for x in arg)
        if fn == "Condition":
            return self.condition(arg)
        if fn == "Fn::Select":
            return self.eval(arg[1])[int(arg[0])]
        if fn == "Fn::Split":
            return str(self.eval(arg[1])).split(arg[0])
        return {fn: self.eval(arg)}

    def resources(self, kind):
        for name, res in self.t["Resources"].items():
            if res["Type"] == kind and ("Condition" not in res or self.condition(res["Condition"])):
                yield name, res


DUCK_TYPES = {"string": "VARCHAR", "bigint": "BIGINT", "int": "INTEGER", "array<string>": "VARCHAR[]",
              "double": "DOUBLE", "boolean": "BOOLEAN"}


def cast(value, glue_type):
    """A JSON value as the OpenX SerDe reads it into a column of `glue_type`."""
    if value is None:
        return None
    if glue_type == "string":
        return value if isinstance(value, str) else json.dumps(value)
    if glue_type in ("bigint", "int"):
        return int(value)
    if glue_type == "array<string>":
        return [x if isinstance(x, str) or x is None else json.dumps(x) for x in value]
    return value


def projected(template, props, rel_dir):
    """The partition values of `rel_dir` (a location relative to the bucket) if the table's
    projection produces that path, else an error naming the first key that does not match."""
    keys = re.findall(r"\$\{([^}]+)\}", template)
    pattern = "^" + re.sub(r"\\\$\\\{([^}]+)\\\}", lambda m: f"(?P<{m.group(1)}>[^/]+)", re.escape(template)) + "$"
    m = re.match(pattern, rel_dir)
    if not m:
        return None, f"{rel_dir} does not match {template}"
    values = {}
    for k in keys:
        v = m.group(k)
        kind = props.get(f"projection.{k}.type")
        if kind == "enum":
            allowed = props[f"projection.{k}.values"].split(",")
            if v not in allowed:
                return None, f"{k}={v} is not among projection.{k}.values"
        elif kind == "integer":
            lo, hi = (int(x) for x in props[f"projection.{k}.range"].split(","))
            digits = int(props.get(f"projection.{k}.digits", "1"))
            if not v.isdigit() or not lo <= int(v) <= hi or v != str(int(v)).zfill(digits):
                return None, f"{k}={v} is not projected (range {lo}-{hi}, {digits} digits)"
        elif kind != "injected":
            return None, f"{k}: projection type {kind} not handled here"
        values[k] = v
    return values, None


def load_table(con, stack, name, res, output):
    props = stack.eval(res["Properties"])
    db, ti = props["DatabaseName"], props["TableInput"]
    table, params, sd = ti["Name"], ti["Parameters"], ti["StorageDescriptor"]
    assert params.get("projection.enabled") == "true", f"{name}: partition projection is off"
    loc = params["storage.location.template"]
    bucket, _, key_template = loc.removeprefix("s3://").partition("/")
    columns = [(c["Name"], c["Type"]) for c in sd["Columns"]]
    parts = [(c["Name"], c["Type"]) for c in ti["PartitionKeys"]]
    mapping = {k.removeprefix("mapping."): v.lower() for k, v in sd["SerdeInfo"].get("Parameters", {}).items()
               if k.startswith("mapping.")}
    con.execute(f'CREATE SCHEMA IF NOT EXISTS "{db}"')
    cols = ", ".join(f'"{n}" {DUCK_TYPES[t]}' for n, t in columns + parts)
    con.execute(f'CREATE TABLE "{db}"."{table}" ({cols})')
    base = output / bucket
    static = key_template.split("${", 1)[0]
    files = sorted(p for p in (base / static).rglob("*") if p.is_file()) if (base / static).exists() else []
    if not files:
        sys.exit(f"{name}: the demo left no file under s3://{bucket}/{static} ({base / static}); run make demo")
    rows, errors = [], []
    for f in files:
        rel_dir = str(f.parent.relative_to(base)) + "/"
        values, error = projected(key_template, params, rel_dir)
        if error:
            errors.append(f"{f.relative_to(output)}: {error}: Athena would never read it")
            continue
        opener = gzip.open if f.suffix == ".gz" else open
        with opener(f, "rt", encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                event = {k.lower(): v for k, v in json.loads(line).items()}
                row = [cast(event.get(mapping.get(c, c)), t) for c, t in columns]
                row += [cast(values[p], t) for p, t in parts]
                rows.append(row)
    if errors:
        sys.exit("\n".join([f"{name}: files outside the partition projection:"] + errors))
    con.executemany(f'INSERT INTO "{db}"."{table}" VALUES ({", ".join("?" * len(columns + parts))})', rows)
    print(f"table {db}.{table} ({name}): {len(rows)} rows from {len(files)} files, every path projected")


def resolve(v, manifest):
    """Expected values that depend on when the demo ran: "{cwl_t0_ms+N}" (the demo's log events'
    time, from target/demo-output/manifest.json, plus N ms) and "{cwl_year}", "{cwl_month}",
    "{cwl_day}" (its UTC date)."""
    if isinstance(v, list):
        return [resolve(x, manifest) for x in v]
    m = re.fullmatch(r"\{(\w+?)(?:_(year|month|day))?([+-]\d+)?\}", v) if isinstance(v, str) else None
    if not m:
        return v
    name, part, offset = m.group(1), m.group(2), int(m.group(3) or 0)
    if part:
        ms = int(manifest[f"{name}_t0_ms"])
        day = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc)
        return getattr(day, part) + offset
    return int(manifest[name]) + offset


def plain(v):
    return v if isinstance(v, (str, int, float, type(None))) else str(v)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--template", default=ROOT / "template.yaml", type=pathlib.Path)
    ap.add_argument("--output", default=ROOT / "target/demo-output", type=pathlib.Path)
    ap.add_argument("--expected", default=ROOT / "tests/queries/expected.json", type=pathlib.Path)
    args = ap.parse_args()
    stack = Stack(yaml.load(args.template.read_text(), Loader=Cfn))
    manifest_path = args.output / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    expected = {k: {"params": resolve(v["params"], manifest), "rows": resolve(v["rows"], manifest)}
                for k, v in json.loads(args.expected.read_text()).items()}
    con = duckdb.connect()
    for name, res in stack.resources("AWS::Glue::Table"):
        load_table(con, stack, name, res, args.output)
    failures, ran = [], set()
    for name, res in stack.resources("AWS::Athena::NamedQuery"):
        ran.add(name)
        sql = stack.eval(res["Properties"]["QueryString"])
        try:
            sqlglot.parse_one(sql, read="trino", error_level=sqlglot.ErrorLevel.RAISE)
            duck = sqlglot.transpile(sql, read="trino", write="duckdb")[0]
        except sqlglot.errors.SqlglotError as e:
            failures.append(f"{name}: not valid Trino SQL: {e}")
            continue
        want = expected.get(name)
        if want is None:
            failures.append(f"{name}: no expected rows in {args.expected.name}")
            continue
        got = [[plain(v) for v in row] for row in con.execute(duck, want["params"]).fetchall()]
        if got != want["rows"]:
            failures.append(f"{name}: params {want['params']}\n  expected {want['rows']}\n  got      {got}")
        else:
            print(f"query {name}: {len(got)} rows as expected")
    for name in sorted(set(expected) - ran):
        failures.append(f"{name}: expected rows for a named query the template does not create")
    if failures:
        sys.exit("query-check failed:\n" + "\n".join(failures))
    print(f"query-check: {len(ran)} named queries parsed as Trino SQL and returned the demo's rows")


if __name__ == "__main__":
    main()
