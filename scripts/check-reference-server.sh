#!/usr/bin/env bash
# Smoke-check the reference submission's server.py on this machine, outside Docker: make the tiny
# model, start the server on 127.0.0.1, call /tokenize, /process (greedy, echo, stop) and /decode,
# print the answers, stop the server. Uses the GPU (and vLLM, when importable) if there is one.
#
# Usage: scripts/check-reference-server.sh [PYTHON]     (default: .venv/bin/python, else python3)
# Environment: PODIUM_BACKEND=auto|transformers|vllm (passed to server.py), PORT (default 18080)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${1:-}"
if [[ -z "$PY" ]]; then
  if [[ -x "$REPO/.venv/bin/python" ]]; then PY="$REPO/.venv/bin/python"; else PY=python3; fi
fi
PORT="${PORT:-18080}"
WORK="$(mktemp -d)"
SERVER_PID=""
step() { echo "[check] $*"; }
die() { echo "[check] ERROR: $*" >&2; exit 1; }
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

"$PY" -c "import torch, transformers" 2>/dev/null \
  || die "$PY cannot import torch and transformers: install the model extra (pip install -e '.[model]')"
step "$("$PY" -c 'import torch, transformers, importlib.util as u; print("torch", torch.__version__, "cuda" if torch.cuda.is_available() else "cpu", "transformers", transformers.__version__, "vllm" if u.find_spec("vllm") else "no-vllm")')"

step "making the tiny model in $WORK/weights"
(cd "$REPO" && HF_HUB_OFFLINE=1 "$PY" -m examples.make_tiny_model "$WORK/weights" >/dev/null)

step "starting server.py on 127.0.0.1:$PORT (log: $WORK/server.log)"
PODIUM_WEIGHTS_DIR="$WORK/weights" HOST=127.0.0.1 PORT="$PORT" \
  "$PY" "$REPO/examples/submissions/transformers/server.py" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!

call() {
  "$PY" - "$PORT" "$1" "$2" <<'EOF'
import json, sys, urllib.request, urllib.error
port, path, body = sys.argv[1], sys.argv[2], sys.argv[3]
req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body.encode(), method="POST")
try:
    with urllib.request.urlopen(req, timeout=120) as r:
        print(r.status, r.read().decode()[:600])
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode()[:600])
EOF
}

for (( i = 0; i < 600; i++ )); do
  if call /tokenize '{"text": "a"}' >/dev/null 2>&1; then break; fi
  kill -0 "$SERVER_PID" 2>/dev/null || { tail -n 40 "$WORK/server.log" >&2; die "server.py exited"; }
  sleep 0.5
done
call /tokenize '{"text": "a"}' >/dev/null 2>&1 || { tail -n 40 "$WORK/server.log" >&2; die "server.py did not answer in 300 s"; }
grep -E 'backend|ready' "$WORK/server.log" | sed 's/^/[check] server: /'

step "/tokenize";     call /tokenize '{"text": "Hello world", "truncation": false}'
step "/process greedy"
call /process '{"prompt": "The capital of France is", "temperature": 1e-7, "max_new_tokens": 12, "top_k_per_token": 2, "num_return_sequences": 1, "top_p": 1, "echo_prompt": false, "stop_sequences": []}'
step "/process again (must match)"
call /process '{"prompt": "The capital of France is", "temperature": 1e-7, "max_new_tokens": 12, "top_k_per_token": 2, "num_return_sequences": 1, "top_p": 1, "echo_prompt": false, "stop_sequences": []}'
step "/process echo, max_new_tokens 0"
call /process '{"prompt": "Score me", "temperature": 0, "max_new_tokens": 0, "echo_prompt": true}'
step "/process sampled, seed 7, stop at a space"
call /process '{"prompt": "Sample:", "temperature": 0.9, "top_k": 20, "top_p": 0.95, "seed": 7, "max_new_tokens": 30, "stop_sequences": [" "]}'
step "/decode";       call /decode '{"tokens": [75, 104, 111, 111, 114]}'
step "bad JSON";      call /process '{nope'
step "ok"
