#!/usr/bin/env bash
# Builds the libFuzzer targets and runs each one for a while from a copy of its seed corpus.
#
#   tests/fuzz/run.sh [BUILD_DIR] [SECONDS]
#
# BUILD_DIR (default build-fuzz, relative to the repository root) is configured with clang,
# -DC4C_FUZZ=ON and RelWithDebInfo; only the `fuzz` target is built (-j ${JOBS:-$(nproc)}). Every
# target then runs for SECONDS (default 30; C4C_FUZZ_SECONDS overrides both), two at a time at most,
# with -rss_limit_mb=2048 -timeout=10, in a temporary directory: the repository is never written to.
# One summary line per target; exit 1 when any target crashed, leaked, timed out or ran out of memory
# (its log, the input and the command that reproduces it are printed, and the temporary directory is
# kept), 2 for a usage or set-up error. See tests/fuzz/README.md.
set -euo pipefail

root=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
build=${1:-build-fuzz}
seconds=${C4C_FUZZ_SECONDS:-${2:-30}}
jobs=${JOBS:-$(nproc)}
[[ $build = /* ]] || build="$root/$build"
if ! [[ $seconds =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: tests/fuzz/run.sh [BUILD_DIR] [SECONDS]  (SECONDS: a positive integer, not '$seconds')" >&2
  exit 2
fi
if ! command -v clang >/dev/null || ! command -v clang++ >/dev/null; then
  echo "tests/fuzz/run.sh: clang is missing; on Debian 12: apt-get install clang libclang-rt-14-dev" >&2
  exit 2
fi

if [ -f "$build/CMakeCache.txt" ] && ! grep -q "^C4C_FUZZ:BOOL=ON" "$build/CMakeCache.txt"; then
  echo "tests/fuzz/run.sh: $build is an ordinary build directory; give the fuzz build its own" >&2
  exit 2
fi

echo "==> fuzz: building $build (-j $jobs)"
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DC4C_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target fuzz -j "$jobs"

# The targets CMake defines (tests/fuzz/CMakeLists.txt), each with its seed corpus: a target without a
# corpus folder fails here rather than being left out, and so does a folder without a target.
mapfile -t targets < <(grep -v '^$' "$build/tests/fuzz/targets.txt")
if [ ${#targets[@]} -eq 0 ]; then
  echo "tests/fuzz/run.sh: $build/tests/fuzz/targets.txt lists no fuzz target" >&2
  exit 2
fi
for name in "${targets[@]}"; do
  if [ -z "$(find "$root/tests/fuzz/corpus/$name" -type f -print -quit 2>/dev/null)" ]; then
    echo "tests/fuzz/run.sh: fuzz_$name has no seed corpus: add inputs to tests/fuzz/corpus/$name/" >&2
    exit 2
  fi
done
for corpus in "$root"/tests/fuzz/corpus/*/; do
  if ! printf '%s\n' "${targets[@]}" | grep -qx "$(basename "$corpus")"; then
    echo "tests/fuzz/run.sh: tests/fuzz/corpus/$(basename "$corpus") has no target in tests/fuzz/CMakeLists.txt" >&2
    exit 2
  fi
done
work=$(mktemp -d "${TMPDIR:-/tmp}/c4c-fuzz.XXXXXX")

# Every UBSan report is already fatal (-fno-sanitize-recover); show where it happened.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

run_target() {
  local name=$1 dir="$work/$1"
  mkdir -p "$dir/artifacts"
  cp -R "$root/tests/fuzz/corpus/$name" "$dir/corpus"
  local status=0
  "$build/tests/fuzz/fuzz_$name" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$dir/artifacts/" "$dir/corpus" </dev/null >"$dir/log" 2>&1 || status=$?
  echo "$status" >"$dir/status"
}

echo "==> fuzz: ${#targets[@]} targets, ${seconds}s each, two at a time ($work)"
running=0
for name in "${targets[@]}"; do
  if [ ! -x "$build/tests/fuzz/fuzz_$name" ]; then
    echo "tests/fuzz/run.sh: $build/tests/fuzz/fuzz_$name was not built" >&2
    exit 2
  fi
  if [ "$running" -ge 2 ]; then
    wait -n || true
    running=$((running - 1))
  fi
  run_target "$name" &
  running=$((running + 1))
done
wait

failed=0
for name in "${targets[@]}"; do
  dir="$work/$name"
  status=$(cat "$dir/status" 2>/dev/null || echo "?")
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -n 1)
  corpus=$(find "$dir/corpus" -type f | wc -l)
  result=ok
  if [ "$status" != 0 ]; then
    failed=1
    if grep -q "ERROR: LeakSanitizer" "$dir/log"; then
      result="LEAK"
    elif grep -q "ERROR: libFuzzer: timeout" "$dir/log"; then
      result="TIMEOUT"
    elif grep -q "ERROR: libFuzzer: out-of-memory" "$dir/log"; then
      result="OUT OF MEMORY"
    else
      result="CRASH"
    fi
    result="$result (exit $status)"
  fi
  printf 'fuzz_%-16s %12s execs  %6s inputs in corpus  %s\n' "$name" "${execs:-?}" "$corpus" "$result"
done

if [ "$failed" -ne 0 ]; then
  for name in "${targets[@]}"; do
    dir="$work/$name"
    [ "$(cat "$dir/status" 2>/dev/null)" = 0 ] && continue
    echo
    echo "==> fuzz_$name failed: $(grep -m 1 -E "runtime error|ERROR: |fuzz check failed" "$dir/log" || true)"
    echo "--- the end of its log ($dir/log):"
    tail -n 40 "$dir/log"
    for input in "$dir"/artifacts/*; do
      [ -e "$input" ] || continue
      echo "input:     $input"
      echo "reproduce: $build/tests/fuzz/fuzz_$name $input"
    done
  done
  echo
  echo "fuzz: FAILED; inputs and logs are kept in $work (add each input to tests/fuzz/corpus/<target>/"
  echo "and as a regression case to the unit tests once fixed, see tests/fuzz/README.md)"
  exit 1
fi
rm -rf "$work"
echo "fuzz: all ${#targets[@]} targets passed"
