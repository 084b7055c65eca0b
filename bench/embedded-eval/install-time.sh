#!/usr/bin/env bash
# Install time of each candidate from a clean npm cache, in a throwaway dir, so nothing leaks into
# the project's package.json or cache. better-sqlite3 builds from source here (its prebuilt-binary
# download cannot be reached), which is exactly what a user without a matching prebuild pays.
# Usage: bash bench/embedded-eval/install-time.sh [runs]   (prints one TSV line per run)
set -euo pipefail
runs="${1:-2}"
declare -A SPEC=(
  [better-sqlite3]="better-sqlite3@12.11.1"
  [pglite]="@electric-sql/pglite"
)
printf 'candidate\trun\tseconds\tnode_modules_MB\n'
for run in $(seq 1 "$runs"); do
  for name in better-sqlite3 pglite; do
    dir="$(mktemp -d /tmp/auditq-install-XXXXXX)"
    cache="$(mktemp -d /tmp/auditq-npmcache-XXXXXX)"
    (cd "$dir" && npm init -y >/dev/null 2>&1)
    start=$(date +%s.%N)
    (cd "$dir" && npm install --cache "$cache" --no-audit --no-fund "${SPEC[$name]}" >"$dir/install.log" 2>&1)
    end=$(date +%s.%N)
    size=$(du -sm "$dir/node_modules" | cut -f1)
    printf '%s\t%s\t%.1f\t%s\n' "$name" "$run" "$(echo "$end - $start" | bc)" "$size"
    rm -rf "$dir" "$cache"
  done
done
