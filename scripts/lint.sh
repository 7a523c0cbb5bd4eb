#!/usr/bin/env bash
# Style and static checks: clang-format (layout) and clang-tidy (.clang-tidy: bugprone, performance,
# readability with cognitive complexity <= 25) over the library and the CLI.
# Usage: scripts/lint.sh [path-regex]   (default: every source of src/)
#   LINT_JOBS=N   clang-tidy processes (default 2)
# clang-tidy reads build-lint/compile_commands.json, which this script configures itself (no
# compiling but protoc's one generated header) with precompiled headers off: clang cannot read the GCC precompiled header the CLI's
# build/ uses, and would otherwise fail on every file of src/cli. (build-lint.log: the configure log.)
# Prints each finding, then the count per check, and exits non-zero if clang-tidy or clang-format
# report anything.
set -uo pipefail
cd "$(dirname "$0")/.."
filter=${1:-src/}
jobs=${LINT_JOBS:-2}
lint_dir=build-lint
if ! cmake -S . -B "$lint_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
     -DCMAKE_DISABLE_PRECOMPILE_HEADERS=ON >"$lint_dir.log" 2>&1; then
  echo "lint: cmake could not configure $lint_dir (see $lint_dir.log)" >&2
  exit 2
fi
# The one generated header a source includes (protoc's caffe_subset.pb.h, made with the Python module
# by the target caffe_proto_python): clang-tidy cannot read caffe_converter.h's sources without it.
if ! cmake --build "$lint_dir" --target caffe_proto_python >>"$lint_dir.log" 2>&1; then
  echo "lint: cannot generate caffe_subset.pb.h in $lint_dir (see $lint_dir.log)" >&2
  exit 2
fi
mapfile -t files < <(git ls-files 'src/*.cc' 'src/*.h' | grep -E "$filter")
status=0
echo "== clang-format (${#files[@]} files)"
# (-Werror turns clang-format's findings into "error:" lines: the files are listed with a count each.)
clang-format-14 --dry-run -Werror "${files[@]}" 2>&1 | grep -oE "^src/[^:]+:[0-9]+:[0-9]+: (warning|error):" |
  cut -d: -f1 | sort | uniq -c | awk '{print $2 ": " $1 " place(s) to format"}'
clang-format-14 --dry-run -Werror "${files[@]}" >/dev/null 2>&1 || status=1
echo "== clang-tidy"
mapfile -t sources < <(printf '%s\n' "${files[@]}" | grep '\.cc$' | grep -v '_test\.cc$')
report=$(mktemp)
trap 'rm -f "$report"' EXIT
# A header's finding is printed once per source that includes it: keep one of each.
# (run-clang-tidy colours its output even into a pipe: the colour codes are removed.)
run-clang-tidy-14 -quiet -j "$jobs" -p "$lint_dir" "${sources[@]/#/$PWD/}" 2>/dev/null |
  sed -e 's/\x1b\[[0-9;]*m//g' -e "s|$PWD/||" | grep -E "(warning|error):" | sort -u >"$report"
cat "$report"
if [ -s "$report" ]; then
  status=1
  echo "== clang-tidy findings per check"
  grep -oE "\[[a-z0-9.,-]+\]$" "$report" | sort | uniq -c | sort -rn
fi
echo "== clang-tidy: $(wc -l <"$report") finding(s) in ${#sources[@]} sources"
exit $status
