#!/usr/bin/env bash
# Checks conf/prometheus/alerts.yml with promtool: syntax and expressions (`check rules`), then the
# unit tests in tests/packaging/alerts_test.yml (`test rules`).
# Usage: check_alert_rules.sh [REPO_ROOT]   (default: this script's ../..). Works from any cwd.
# Exit: 0 ok, 1 a check failed, 77 skipped (promtool missing; under CI=true that is a failure: 1).
# promtool comes with Debian's `prometheus` package, which the project's install script installs
# (apt-get install --no-install-recommends prometheus), so CI never needs to skip.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "${1:-$script_dir/../..}" && pwd)

if ! command -v promtool >/dev/null 2>&1; then
    if [[ ${CI:-} == true ]]; then
        echo "FAIL: promtool not found, and CI=true must not skip (apt-get install --no-install-recommends prometheus)" >&2
        exit 1
    fi
    echo "SKIPPED: promtool not found (apt-get install --no-install-recommends prometheus)" >&2
    exit 77
fi

failed=0
# The test file names its rule file relative to itself, so the cwd does not matter.
promtool check rules "$root/conf/prometheus/alerts.yml" || failed=1
promtool test rules "$root/tests/packaging/alerts_test.yml" || failed=1
exit "$failed"
