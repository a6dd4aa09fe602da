#!/usr/bin/env bash
# Fails (and shows the difference) when a C++ file of the tree differs from what clang-format makes of it
# with the committed .clang-format. Fix with: clang-format -i FILE (Debian 12's clang-format 14).
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/../.."
command -v clang-format >/dev/null || { echo "clang-format is not installed (Debian package clang-format)" >&2; exit 1; }
mapfile -t files < <(find infra collectors exporters daemon tests bench -name '*.cpp' -o -name '*.hpp' | sort)
[ ${#files[@]} -gt 0 ] || { echo "no C++ files found" >&2; exit 1; }
status=0
for file in "${files[@]}"; do
  if ! diff -u "$file" <(clang-format --style=file "$file") >/tmp/c4c-format.$$ 2>&1; then
    status=1
    head -40 /tmp/c4c-format.$$
  fi
done
rm -f /tmp/c4c-format.$$
[ "$status" -eq 0 ] && echo "${#files[@]} files formatted" || echo "unformatted files above: run clang-format -i on them" >&2
exit "$status"
