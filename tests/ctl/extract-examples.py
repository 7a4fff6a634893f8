#!/usr/bin/env python3
"""Writes the commands of the code blocks under EXAMPLES of a scdoc man page to two scripts:
the local ones, and those that reach another host (-H), which need ssh."""
import sys

source, local_out, remote_out = sys.argv[1:4]
lines = open(source, encoding="utf-8").read().splitlines()
start = lines.index("# EXAMPLES")
end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("# ")), len(lines))
local, remote, inside = [], [], False
for line in lines[start + 1:end]:
    if line.startswith("```"):
        inside = not inside
    elif inside and line.strip():
        (remote if " -H " in line else local).append(line)
for name, commands in ((local_out, local), (remote_out, remote)):
    with open(name, "w", encoding="utf-8") as f:
        f.write("\n".join(commands) + "\n")
