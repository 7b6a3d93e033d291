#!/usr/bin/env bash
# Browser tests of the web UI: starts one real server (debug build) on 127.0.0.1 at a
# free port with a fresh data folder, drives it with Debian's Chromium through
# playwright-core (every tests/web/*.e2e.mjs, one after another; shared helpers in
# lib.mjs), then stops the server by its PID.
#
#   tests/web/run.sh                 # all files; needs target/debug/starling
#   tests/web/run.sh groups dm       # only groups.e2e.mjs and dm.e2e.mjs
#
# Installs what is missing: chromium and fonts from Debian (apt), playwright-core and
# @axe-core/playwright from npm into target/web-e2e (pinned by package-lock.json).
# Screenshots go to target/web-screenshots/. Honours STARLING_BIN and CARGO_TARGET_DIR.
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$(pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
STARLING_BIN=${STARLING_BIN:-$TARGET_DIR/debug/starling}
E2E_DIR=$ROOT/target/web-e2e
SHOTS=$ROOT/target/web-screenshots

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
        echo "error: need root (or sudo) to run: $*" >&2; return 1; fi
}

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# Without fonts, screenshots and the contrast checks vary from machine to machine.
[ -d /usr/share/fonts/truetype/liberation ] || missing+=(fonts-liberation)
# Emoji in the screenshots as people see them, not as empty boxes.
[ -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || missing+=(fonts-noto-color-emoji)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# npm packages: reinstalled only when the pinned versions change. Never
# `playwright install`: it downloads a browser build; Debian's chromium is used instead.
mkdir -p "$E2E_DIR"
if ! cmp -s tests/web/package-lock.json "$E2E_DIR/package-lock.json" || [ ! -d "$E2E_DIR/node_modules/playwright-core" ]; then
    cp tests/web/package.json tests/web/package-lock.json "$E2E_DIR/"
    (cd "$E2E_DIR" && npm ci --no-audit --no-fund --loglevel=error)
fi

if [ ! -x "$STARLING_BIN" ]; then
    echo "error: server binary $STARLING_BIN not found (cargo build -p starling-server)" >&2
    exit 1
fi

DATA=$(mktemp -d /tmp/starling-web-e2e.XXXXXX)
SERVER_PID=
stop_server() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID"
        for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.05; done
    fi
    rm -rf "$DATA"
}
trap stop_server EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
URL=http://127.0.0.1:$PORT
"$STARLING_BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$DATA" >"$DATA/server.log" 2>&1 &
SERVER_PID=$!
# Poll until the port answers (bash's /dev/tcp: no curl needed).
for _ in $(seq 1 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$DATA/server.log" >&2; exit 1; }
    sleep 0.05
done

rm -rf "$SHOTS" && mkdir -p "$SHOTS"
status=0
if [ "$#" -gt 0 ]; then files=(); for name in "$@"; do files+=("tests/web/$name.e2e.mjs"); done
else files=(tests/web/*.e2e.mjs); fi
for file in "${files[@]}"; do
    echo "--- $file"
    STARLING_URL=$URL SCREENSHOT_DIR=$SHOTS E2E_MODULES=$E2E_DIR/node_modules CHROMIUM=$(command -v chromium) \
        node "$file" || status=1
done
if [ "$status" -ne 0 ]; then
    echo "--- server log ---" >&2
    tail -n 50 "$DATA/server.log" >&2
fi
exit "$status"
