#!/usr/bin/env bash
# Install the n8n packages the n8n adapter runs (package.json + package-lock.json
# beside this script) into a cache directory outside the repository:
#
#   ${MM_CONFORMANCE_CACHE:-/var/cache/mm-conformance}/n8n-adapter/node_modules
#
# Idempotent: does nothing when the installed lock's hash matches this one.
# `npm ci --ignore-scripts`: n8n's native dependencies (isolated-vm, sqlite3, …)
# are not built; isolated-vm needs Node >= 24 anyway (see README.md).
# Cold install: about 3 minutes and 2.8 GB on 2 cores.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
target="${MM_CONFORMANCE_CACHE:-/var/cache/mm-conformance}/n8n-adapter"
stamp="$target/.installed-lock.sha256"

command -v node >/dev/null || { echo "n8n adapter: node is not installed" >&2; exit 1; }
command -v npm >/dev/null || { echo "n8n adapter: npm is not installed" >&2; exit 1; }

want="$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -d "$target/node_modules/n8n-core" ]; then
    echo "n8n adapter: up to date in $target"
    exit 0
fi

mkdir -p "$target"
exec 9>"$target/.install.lock"
flock 9
# Another run may have finished the job while we waited for the lock.
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -d "$target/node_modules/n8n-core" ]; then
    echo "n8n adapter: up to date in $target"
    exit 0
fi

echo "n8n adapter: installing into $target (npm ci --ignore-scripts; a few minutes the first time)"
rm -f "$stamp"
cp "$here/package.json" "$here/package-lock.json" "$target/"
(cd "$target" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
echo "$want" > "$stamp"
echo "n8n adapter: installed"
