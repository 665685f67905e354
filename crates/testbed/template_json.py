"""Prints template.yaml as JSON (intrinsics as {"Ref": ...}/{"Fn::Sub": ...}) for Rust tests."""
import json
import sys

from cfnlint.decode import decode

template, matches = decode(sys.argv[1])
if matches:
    sys.exit("cannot parse %s: %s" % (sys.argv[1], matches))
json.dump(template, sys.stdout, default=str)
