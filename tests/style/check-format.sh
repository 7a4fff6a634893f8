#!/bin/sh
# Every C file in src/ and tests/ is formatted as .clang-format says (GNU braces, 120 columns).
# Run `clang-format -i FILE` to fix one.
set -eu
top=$1
cd "$top"
find src tests -name '*.[ch]' -print | sort | xargs clang-format --dry-run --Werror
