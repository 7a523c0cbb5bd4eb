#!/usr/bin/env bash
# Style and static checks: clang-format (layout) and clang-tidy (.clang-tidy: bugprone, performance,
# readability with cognitive complexity <= 25) over the library and the CLI, using build/'s
# compile_commands.json. Usage: scripts/lint.sh [path-regex]   (default: every source of src/)
# Prints what it finds and exits non-zero if clang-tidy or clang-format report anything.
set -uo pipefail
cd "$(dirname "$0")/.."
[ -f build/compile_commands.json ] || { echo "lint: run scripts/setup.sh first (needs build/compile_commands.json)" >&2; exit 2; }
filter=${1:-src/}
mapfile -t files < <(git ls-files 'src/*.cc' 'src/*.h' | grep -E "$filter")
status=0
echo "== clang-format (${#files[@]} files)"
clang-format --dry-run -Werror "${files[@]}" 2>&1 | grep -E "^src/.*warning" | sed 's/: warning:.*//' | sort -u || true
clang-format --dry-run -Werror "${files[@]}" >/dev/null 2>&1 || status=1
echo "== clang-tidy"
mapfile -t sources < <(printf '%s\n' "${files[@]}" | grep '\.cc$' | grep -v '_test\.cc$')
run-clang-tidy -quiet -p build "${sources[@]/#/$PWD/}" 2>/dev/null | grep -E "warning:|error:" | sort -u | tee /tmp/fool-lint.txt
[ -s /tmp/fool-lint.txt ] && status=1
exit $status
