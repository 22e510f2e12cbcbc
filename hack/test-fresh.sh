#!/usr/bin/env bash
# `make test-fresh`: what a new user meets. A fresh clone of the committed HEAD in a temporary
# directory, an empty tool cache (JK_CACHE, which also holds the Go module and build caches),
# empty pip and npm caches, then exactly the README's two commands, timed.
# System packages (apt) stay installed: they are not the project's cache.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
if python3 "$here/hack/cluster.py" status >/dev/null 2>&1; then
  echo "a local cluster is running (make cluster-down first): the fresh clone needs its ports" >&2
  exit 1
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/jk-fresh.XXXXXX")
echo "[test-fresh] clone and caches in $dir (kept for inspection; rm -rf it afterwards)"
git clone --quiet "$here" "$dir/repo"
export JK_CACHE="$dir/cache" PIP_CACHE_DIR="$dir/pip-cache" npm_config_cache="$dir/npm-cache"
# An image store of its own, so image builds start without cached layers (podman/buildah).
mkdir -p "$dir/containers"
printf '[storage]\ndriver = "overlay"\ngraphroot = "%s"\nrunroot = "%s"\n' \
  "$dir/containers/storage" "$dir/containers/run" > "$dir/containers/storage.conf"
export CONTAINERS_STORAGE_CONF="$dir/containers/storage.conf"
cd "$dir/repo"
t0=$(date +%s)
status=0
make demo 2>&1 | tee "$dir/demo.log" || status=$?
t1=$(date +%s)
[ "$status" = 0 ] && { make test 2>&1 | tee "$dir/test.log" || status=$?; }
t2=$(date +%s)
make cluster-down >/dev/null 2>&1 || true
echo
echo "[test-fresh] make demo: $(( (t1 - t0) / 60 ))m$(( (t1 - t0) % 60 ))s"
echo "[test-fresh] make test: $(( (t2 - t1) / 60 ))m$(( (t2 - t1) % 60 ))s"
grep -h -E '^\[(tools|images)\] .*(built|installed) in' "$dir/demo.log" "$dir/test.log" | sed 's/^/[test-fresh]   /' || true
echo "[test-fresh] total: $(( (t2 - t0) / 60 ))m$(( (t2 - t0) % 60 ))s, exit $status"
exit "$status"
