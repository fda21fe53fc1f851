# ruff: noqa: T201  (a container server: its output is its log)
"""A stdlib-only model server for end-to-end tests (speaks the neurips2023 protocol).

Modes (argv[1]):
  answer_key  answers each MMLU question with the letter from answers.json (question -> letter)
  always      always answers the text in argv[2] (e.g. " A")
  crash       prints a message and exits 3 before listening
  probe       first tries to connect to every host:port in probe.json and prints the outcome,
              then serves like `always A`
  slow        like `always A`, but each answer takes argv[2] seconds
  openai      speaks the `openai` protocol (as `vllm serve` does) on port 8000, answering " A"
"""

import json
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).parent
MODE = sys.argv[1]


KEY = json.loads((HERE / "answers.json").read_text()) if MODE == "answer_key" else {}


def question_key(prompt):
    """The asked question and its first choice: the text between the last 'Question: ' and
    '\nB. ' of a multiple_choice_joint prompt."""
    return prompt.rsplit("Question: ", 1)[-1].split("\nB. ", 1)[0]


def answer(prompt):
    key = question_key(prompt)
    print("ASKED " + json.dumps(key), flush=True)
    if MODE == "answer_key":
        return " " + KEY.get(key, "?")
    if MODE == "slow":
        time.sleep(float(sys.argv[2]))
        return " A"
    return sys.argv[2] if len(sys.argv) > 2 else " A"


class Handler(BaseHTTPRequestHandler):
    def _reply(self, payload):
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/v1/models" and MODE == "openai":
            self._reply({"object": "list", "data": [{"id": "tiny", "object": "model"}]})
        else:
            self.send_error(404)

    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if MODE == "openai":
            if self.path == "/tokenize":
                self._reply({"tokens": list(request["prompt"].encode()), "count": 0})
            elif self.path == "/v1/completions":
                text = answer(request["prompt"])
                self._reply(
                    {
                        "object": "text_completion",
                        "model": request.get("model"),
                        "choices": [
                            {"index": 0, "text": text, "logprobs": None, "finish_reason": "stop"}
                        ],
                    }
                )
            else:
                self.send_error(404)
            return
        if self.path == "/tokenize":
            self._reply({"tokens": list(request["text"].encode()), "request_time": 0.0})
        elif self.path == "/process":
            text = answer(request["prompt"])
            tokens = [{"text": text, "logprob": -0.1, "top_logprob": {text: -0.1}}]
            self._reply({"text": text, "tokens": tokens, "logprob": -0.1, "request_time": 0.001})
        else:
            self.send_error(404)

    def log_message(self, *args):
        pass


def probe():
    targets = json.loads((HERE / "probe.json").read_text())
    for host, port in targets:
        try:
            with socket.create_connection((host, port), timeout=3):
                print(f"PROBE {host}:{port} CONNECTED", flush=True)
        except OSError as exc:
            print(f"PROBE {host}:{port} blocked ({type(exc).__name__})", flush=True)


if __name__ == "__main__":
    if MODE == "crash":
        print("loading model... out of luck, exiting", flush=True)
        time.sleep(0.5)
        sys.exit(3)
    if MODE == "probe":
        probe()
    port = 8000 if MODE == "openai" else 80
    print(f"serving mode={MODE} on :{port}", flush=True)
    ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()
