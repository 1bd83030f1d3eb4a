#!/usr/bin/env python3
"""The README's table of ember's built-in seccomp allow-lists, made from the policy itself.

usage: seccomp-table.py EMBER              print the table (markdown)
       seccomp-table.py EMBER --check FILE  PASS/FAIL: FILE's table, between the markers
                                            <!-- seccomp-table --> and <!-- /seccomp-table -->,
                                            is the one EMBER prints
"""
import json
import subprocess
import sys

BEGIN, END = "<!-- seccomp-table -->", "<!-- /seccomp-table -->"
OPS = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def condition(args):
    out = []
    for a in args:
        op = a["op"]
        if isinstance(op, dict):
            mask = op["masked_eq"]
            text = f"arg{a['index']} & {mask:#x} == {a['val']:#x}"
        else:
            text = f"arg{a['index']} {OPS[op]} {a['val']:#x}"
        out.append(text)
    return ", ".join(out) or "any"


def table(policy):
    lines = ["| thread | syscall | arguments | why |", "| --- | --- | --- | --- |"]
    for thread in ("vmm", "api", "vcpu"):
        for rule in policy[thread]["filter"]:
            lines.append(f"| {thread} | `{rule['syscall']}` | {condition(rule.get('args', []))} "
                         f"| {rule.get('comment', '')} |")
    return "\n".join(lines) + "\n"


def main():
    policy = json.loads(subprocess.run([sys.argv[1], "--print-seccomp-filter"], check=True,
                                       capture_output=True).stdout)
    text = table(policy)
    if len(sys.argv) == 4 and sys.argv[2] == "--check":
        doc = open(sys.argv[3]).read()
        try:
            current = doc.split(BEGIN + "\n", 1)[1].split(END, 1)[0]
        except IndexError:
            current = None
        if current == text:
            print("PASS: lint/readme-seccomp-table")
            return 0
        print("FAIL: lint/readme-seccomp-table (README.md's table is not what "
              f"{sys.argv[1]} --print-seccomp-filter says: run tools/seccomp-table.py and paste)")
        return 1
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
