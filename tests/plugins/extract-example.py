#!/usr/bin/env python3
"""Writes the first code block after the EXAMPLE heading of a scdoc man page to a file."""
import sys

source, output = sys.argv[1], sys.argv[2]
lines = open(source, encoding="utf-8").read().splitlines()
start = lines.index("# EXAMPLE")
opening = next(i for i in range(start, len(lines)) if lines[i].startswith("```"))
closing = next(i for i in range(opening + 1, len(lines)) if lines[i].startswith("```"))
with open(output, "w", encoding="utf-8") as f:
    f.write("\n".join(lines[opening + 1:closing]) + "\n")
