#!/usr/bin/env python3
"""Fails when `cargo test` compiled again a dependency that `cargo build --bins` had compiled.

Usage: no-rebuilds.py BUILD.jsonl TEST.jsonl, each the `--message-format=json` output of one of
the two commands. A dependency compiled in both means the two resolved different features for
it (typically a dev-only crate turning a feature on), and everything above it is built twice.
Dev-only dependencies compiled for the first time by the tests are fine; workspace crates are
always rebuilt for their test harnesses and are not counted.
"""
import json
import sys


def artifacts(path):
    """(package_id, target name, kind, fresh) of every non-workspace compiler artifact."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.startswith("{"):
                continue
            m = json.loads(line)
            if m.get("reason") != "compiler-artifact":
                continue
            pid = m["package_id"]
            if pid.startswith("path+file://"):
                continue
            out.append((pid, m["target"]["name"], ",".join(m["target"]["kind"]), m["fresh"]))
    return out


def main():
    build, test = artifacts(sys.argv[1]), artifacts(sys.argv[2])
    built = {(pid, name, kind) for pid, name, kind, _ in build}
    again = sorted(
        (pid, name, kind) for pid, name, kind, fresh in test if not fresh and (pid, name, kind) in built
    )
    if again:
        print(f"no-rebuilds: cargo test compiled {len(again)} dependencies again "
              "(their features differ between the binaries and the tests):")
        for pid, name, kind in again:
            print(f"  {pid.split('#')[-1]} ({kind} {name})")
        print("Pin the differing features in crates/testbed/Cargo.toml (compare `cargo tree "
              "--workspace -e normal,build -f '{p} {f}'` with `-e all`).")
        return 1
    fresh_deps = sum(1 for *_, fresh in test if not fresh)
    print(f"no-rebuilds: cargo test reused all {len(built)} dependency builds of the binaries "
          f"(compiled {fresh_deps} dev-only ones)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
