"""Reference submission server: the NeurIPS 2023 LLM Efficiency Challenge HTTP protocol.

Endpoints (JSON in, JSON out):
  POST /process   {prompt, temperature, num_return_sequences, max_new_tokens, top_p, echo_prompt,
                   top_k_per_token, stop_sequences}  (also accepted: num_samples, top_k, seed)
                  -> {text, tokens: [{text, logprob, top_logprob: {token: logprob}}], logprob,
                      request_time}
  POST /tokenize  {text, truncation, max_length} -> {tokens: [int], request_time}
  POST /decode    {tokens: [int]} -> {text, request_time}
  GET  /health    -> {status: "ok", backend}

Model and tokenizer come from $PODIUM_WEIGHTS_DIR (default /weights), a Hugging Face checkpoint
directory (or one with a single such subdirectory). The server listens on $HOST:$PORT
(default 0.0.0.0:80) only once the model is loaded, so "answers /tokenize" means "ready".

Two backends, chosen at start:
  * vLLM, when a CUDA GPU is visible and `vllm` imports (set PODIUM_BACKEND=transformers to
    opt out): VLLMBackend below.
  * transformers on CPU or GPU otherwise: TransformersBackend below.
Model calls are serialized with one lock: HTTP requests are handled in threads, the model runs
one request at a time.

Only the Python standard library besides torch / transformers (and optionally vllm).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# The container has no network: never try a hub. setdefault keeps an explicit choice.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

log = logging.getLogger("podium-reference-server")

GREEDY_TEMPERATURE = 1e-5  # HELM sends 1e-7 for temperature 0
MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_NEW_TOKENS_LIMIT = int(os.environ.get("MAX_NEW_TOKENS_LIMIT", "4096"))
MAX_TOP_K_PER_TOKEN = 20


class BadRequest(Exception):
    """The request is invalid; the message says what to fix (HTTP 400)."""


# --------------------------------------------------------------------------------- requests
@dataclass
class ProcessRequest:
    prompt: str
    temperature: float = 0.0
    num_return_sequences: int = 1
    max_new_tokens: int = 50
    top_p: float = 1.0
    top_k: int = 0  # 0: no top-k filtering when sampling
    echo_prompt: bool = False
    top_k_per_token: int = 1
    stop_sequences: list[str] = field(default_factory=list)
    seed: int | None = None

    @property
    def greedy(self) -> bool:
        return self.temperature < GREEDY_TEMPERATURE


def _field(body: dict[str, Any], name: str, kind: type, default: Any) -> Any:
    value = body.get(name, default)
    if value is None:
        return default
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if kind is int and isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise BadRequest(f"field '{name}' must be {kind.__name__}, got {type(value).__name__}")
    if kind is float and not math.isfinite(value):
        raise BadRequest(f"field '{name}' must be a finite number")
    return value


def parse_process(body: dict[str, Any]) -> ProcessRequest:
    prompt = body.get("prompt")
    if not isinstance(prompt, str):
        raise BadRequest("field 'prompt' is required and must be a string")
    n = _field(body, "num_return_sequences", int, None)
    if n is None:
        n = _field(body, "num_samples", int, 1)
    stops = body.get("stop_sequences") or []
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        raise BadRequest("field 'stop_sequences' must be a list of strings")
    req = ProcessRequest(
        prompt=prompt,
        temperature=_field(body, "temperature", float, 0.0),
        num_return_sequences=n,
        max_new_tokens=_field(body, "max_new_tokens", int, 50),
        top_p=_field(body, "top_p", float, 1.0),
        top_k=_field(body, "top_k", int, 0),
        echo_prompt=_field(body, "echo_prompt", bool, False),
        top_k_per_token=_field(body, "top_k_per_token", int, 1),
        stop_sequences=[s for s in stops if s],
        seed=_field(body, "seed", int, None),
    )
    if req.temperature < 0:
        raise BadRequest("field 'temperature' must be >= 0")
    if not 0 < req.top_p <= 1:
        raise BadRequest("field 'top_p' must be in (0, 1]")
    if req.top_k < 0:
        raise BadRequest("field 'top_k' must be >= 0")
    if not 0 <= req.max_new_tokens <= MAX_NEW_TOKENS_LIMIT:
        raise BadRequest(f"field 'max_new_tokens' must be in [0, {MAX_NEW_TOKENS_LIMIT}]")
    if req.num_return_sequences < 1:
        raise BadRequest("field 'num_return_sequences' must be >= 1")
    if req.max_new_tokens == 0 and not req.echo_prompt:
        raise BadRequest("max_new_tokens 0 only makes sense with echo_prompt true")
    req.top_k_per_token = max(1, min(req.top_k_per_token, MAX_TOP_K_PER_TOKEN))
    return req


def find_stop(text: str, stops: list[str]) -> int | None:
    """Index where the earliest stop sequence starts in text, or None."""
    hits = [i for i in (text.find(s) for s in stops) if i >= 0]
    return min(hits) if hits else None


def find_checkpoint(weights_dir: Path) -> Path:
    """The directory holding config.json: weights_dir itself or its single subdirectory with one."""
    if (weights_dir / "config.json").is_file():
        return weights_dir
    subdirs = (
        [p for p in weights_dir.iterdir() if (p / "config.json").is_file()]
        if weights_dir.is_dir()
        else []
    )
    if len(subdirs) == 1:
        return subdirs[0]
    raise SystemExit(
        f"no Hugging Face checkpoint (config.json) in {weights_dir} or in exactly one of its "
        "subdirectories: upload the output of save_pretrained() as the weights"
    )


# ------------------------------------------------------------------- transformers backend
class TransformersBackend:
    """Plain transformers: a token-by-token loop with the KV cache, exact per-token logprobs."""

    name = "transformers"

    def __init__(self, checkpoint: Path) -> None:
        import torch
        import transformers
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.torch = torch
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype_name = os.environ.get("TORCH_DTYPE", "")
        if dtype_name:
            dtype = getattr(torch, dtype_name)
        elif self.device == "cuda":
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        else:
            dtype = torch.float32
        self.tokenizer = AutoTokenizer.from_pretrained(checkpoint)
        # transformers 4.56 renamed torch_dtype to dtype (the old name still works, with a warning).
        major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
        dtype_kw = "dtype" if (major, minor) >= (4, 56) else "torch_dtype"
        self.model = AutoModelForCausalLM.from_pretrained(checkpoint, **{dtype_kw: dtype})
        self.model.to(self.device).eval()
        cfg = self.model.config
        self.context = int(
            getattr(cfg, "max_position_embeddings", None)
            or getattr(cfg, "n_positions", None)
            or getattr(self.tokenizer, "model_max_length", 2048)
        )
        eos = self.tokenizer.eos_token_id
        self.eos_ids = {eos} if isinstance(eos, int) else set(eos or [])
        gen_eos = getattr(getattr(self.model, "generation_config", None), "eos_token_id", None)
        self.eos_ids |= {gen_eos} if isinstance(gen_eos, int) else set(gen_eos or [])
        log.info(
            "transformers backend: %s on %s (%s), context %d",
            checkpoint,
            self.device,
            dtype,
            self.context,
        )

    # Prompts get the special tokens the tokenizer adds (a BOS for Llama-style models), but never
    # a trailing EOS (T5-style tokenizers append one): the model must continue the prompt.
    def encode(self, text: str) -> list[int]:
        ids = list(self.tokenizer(text, add_special_tokens=True)["input_ids"])
        if ids and ids[-1] in self.eos_ids and not text.endswith(self.tokenizer.eos_token or "\0"):
            ids.pop()
        return ids

    def tokenize(self, text: str, truncation: bool, max_length: int | None) -> list[int]:
        ids = self.encode(text)
        if truncation and max_length is not None:
            ids = ids[:max_length]
        return ids

    def decode(self, tokens: list[int]) -> str:
        return self.tokenizer.decode(tokens, skip_special_tokens=True)

    def _token_text(self, tok: int) -> str:
        return self.tokenizer.decode([tok], skip_special_tokens=False)

    def _top(self, logp: Any, k: int) -> dict[str, float]:
        values, ids = self.torch.topk(logp, k)
        top: dict[str, float] = {}
        for v, i in zip(values.tolist(), ids.tolist(), strict=True):
            top.setdefault(self._token_text(i), float(v))
        return top

    def process(self, req: ProcessRequest) -> dict[str, Any]:
        torch = self.torch
        prompt_ids = self.encode(req.prompt)
        if not prompt_ids:
            prompt_ids = sorted(self.eos_ids)[:1] or [0]  # an empty prompt: start from EOS
        if len(prompt_ids) >= self.context:
            raise BadRequest(
                f"prompt is {len(prompt_ids)} tokens; the model's context is {self.context} tokens"
            )
        max_new = min(req.max_new_tokens, self.context - len(prompt_ids))
        generator = None
        if req.seed is not None:
            generator = torch.Generator(device=self.device).manual_seed(req.seed)
        k = req.top_k_per_token

        tokens: list[dict[str, Any]] = []
        with torch.inference_mode():
            ids = torch.tensor([prompt_ids], device=self.device)
            out = self.model(input_ids=ids, use_cache=True)
            if req.echo_prompt:
                logp_all = torch.log_softmax(out.logits[0, :-1].float(), dim=-1)
                tokens.append(
                    {"text": self._token_text(prompt_ids[0]), "logprob": 0.0, "top_logprob": {}}
                )
                for pos, tok in enumerate(prompt_ids[1:]):
                    tokens.append(
                        {
                            "text": self._token_text(tok),
                            "logprob": float(logp_all[pos, tok]),
                            "top_logprob": self._top(logp_all[pos], k),
                        }
                    )
            past = out.past_key_values
            logits = out.logits[0, -1].float()
            generated: list[int] = []
            gen_tokens: list[dict[str, Any]] = []
            ends: list[int] = []  # length of the decoded generated text after each token
            cut: int | None = None
            for _ in range(max_new):
                logp = torch.log_softmax(logits, dim=-1)
                tok = self._choose(logits, req, generator)
                if tok in self.eos_ids:
                    break
                generated.append(tok)
                gen_tokens.append(
                    {
                        "text": self._token_text(tok),
                        "logprob": float(logp[tok]),
                        "top_logprob": self._top(logp, k),
                    }
                )
                text = self.decode(generated)
                ends.append(len(text))
                if req.stop_sequences:
                    cut = find_stop(text, req.stop_sequences)
                    if cut is not None:
                        break
                if len(generated) == max_new:
                    break
                out = self.model(
                    input_ids=torch.tensor([[tok]], device=self.device),
                    past_key_values=past,
                    use_cache=True,
                )
                past = out.past_key_values
                logits = out.logits[0, -1].float()

        text = self.decode(generated)
        if cut is not None:
            text = text[:cut]
            # Keep the tokens that contribute text before the cut.
            keep = sum(1 for i in range(len(gen_tokens)) if (ends[i - 1] if i else 0) < cut)
            gen_tokens = gen_tokens[:keep]
        tokens.extend(gen_tokens)
        return {
            "text": (req.prompt + text) if req.echo_prompt else text,
            "tokens": tokens,
            "logprob": float(sum(t["logprob"] for t in tokens)),
        }

    def _choose(self, logits: Any, req: ProcessRequest, generator: Any) -> int:
        torch = self.torch
        if req.greedy:
            return int(torch.argmax(logits))
        scores = logits / req.temperature
        if req.top_k > 0:
            kth = torch.topk(scores, min(req.top_k, scores.numel())).values[-1]
            scores = scores.masked_fill(scores < kth, float("-inf"))
        if req.top_p < 1.0:
            sorted_scores, order = torch.sort(scores, descending=True)
            sorted_probs = torch.softmax(sorted_scores, dim=-1)
            # Drop a token when the tokens ranked above it already reach top_p (keeps >= 1).
            drop_sorted = sorted_probs.cumsum(dim=-1) - sorted_probs >= req.top_p
            drop = torch.zeros_like(drop_sorted).scatter(0, order, drop_sorted)
            scores = scores.masked_fill(drop, float("-inf"))
        probs = torch.softmax(scores, dim=-1)
        return int(torch.multinomial(probs, 1, generator=generator))


# --------------------------------------------------------------------------- vLLM backend
class VLLMBackend:
    """vLLM on a CUDA GPU: same protocol, much faster generation.

    Not exercised by Podium's own tests (they run without a GPU); kept deliberately small and
    separate. vLLM's `LLM` object is used synchronously under the server's lock, so requests are
    not batched across HTTP connections: for concurrency, serve the `openai` protocol with
    `vllm serve /weights` instead (see README.md).
    """

    name = "vllm"

    def __init__(self, checkpoint: Path) -> None:
        from vllm import LLM

        self.llm = LLM(
            model=str(checkpoint),
            dtype=os.environ.get("TORCH_DTYPE", "auto"),
            gpu_memory_utilization=float(os.environ.get("VLLM_GPU_MEMORY_UTILIZATION", "0.85")),
            max_model_len=int(os.environ["MAX_MODEL_LEN"])
            if os.environ.get("MAX_MODEL_LEN")
            else None,
            enforce_eager=os.environ.get("VLLM_ENFORCE_EAGER", "0") == "1",
        )
        self.tokenizer = self.llm.get_tokenizer()
        log.info("vLLM backend: %s", checkpoint)

    def tokenize(self, text: str, truncation: bool, max_length: int | None) -> list[int]:
        ids = list(self.tokenizer(text, add_special_tokens=True)["input_ids"])
        if truncation and max_length is not None:
            ids = ids[:max_length]
        return ids

    def decode(self, tokens: list[int]) -> str:
        return self.tokenizer.decode(tokens, skip_special_tokens=True)

    def process(self, req: ProcessRequest) -> dict[str, Any]:
        from vllm import SamplingParams

        k = req.top_k_per_token
        params = SamplingParams(
            n=1,
            temperature=0.0 if req.greedy else req.temperature,
            top_p=req.top_p,
            top_k=req.top_k if req.top_k > 0 else -1,
            max_tokens=max(req.max_new_tokens, 1),
            stop=req.stop_sequences or None,
            logprobs=k,
            prompt_logprobs=k if req.echo_prompt else None,
            seed=req.seed,
        )
        result = self.llm.generate([req.prompt], params, use_tqdm=False)[0]
        completion = result.outputs[0]

        def entry(tok: int, alts: dict[int, Any] | None) -> dict[str, Any]:
            alts = alts or {}
            chosen = alts.get(tok)
            top = {}
            for i, lp in sorted(alts.items(), key=lambda kv: -kv[1].logprob)[:k]:
                top.setdefault(lp.decoded_token or self.tokenizer.decode([i]), float(lp.logprob))
            return {
                "text": (
                    chosen.decoded_token
                    if chosen and chosen.decoded_token is not None
                    else self.tokenizer.decode([tok])
                ),
                "logprob": float(chosen.logprob) if chosen else 0.0,
                "top_logprob": top,
            }

        tokens: list[dict[str, Any]] = []
        if req.echo_prompt:
            for tok, alts in zip(
                result.prompt_token_ids, result.prompt_logprobs or [], strict=False
            ):
                tokens.append(entry(tok, alts))
        if req.max_new_tokens > 0:
            for tok, alts in zip(completion.token_ids, completion.logprobs or [], strict=False):
                tokens.append(entry(tok, alts))
        text = completion.text if req.max_new_tokens > 0 else ""
        return {
            "text": (req.prompt + text) if req.echo_prompt else text,
            "tokens": tokens,
            "logprob": float(sum(t["logprob"] for t in tokens)),
        }


def make_backend(weights_dir: Path) -> TransformersBackend | VLLMBackend:
    checkpoint = find_checkpoint(weights_dir)
    choice = os.environ.get("PODIUM_BACKEND", "auto")
    if choice not in ("auto", "vllm", "transformers"):
        raise SystemExit("PODIUM_BACKEND must be auto, vllm or transformers")
    if choice in ("auto", "vllm") and importlib.util.find_spec("vllm") is not None:
        import torch

        if torch.cuda.is_available():
            return VLLMBackend(checkpoint)
        if choice == "vllm":
            raise SystemExit("PODIUM_BACKEND=vllm but no CUDA GPU is visible")
    elif choice == "vllm":
        raise SystemExit("PODIUM_BACKEND=vllm but the vllm package is not installed")
    return TransformersBackend(checkpoint)


# ------------------------------------------------------------------------------ HTTP layer
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "podium-reference/1"
    backend: TransformersBackend | VLLMBackend
    lock = threading.Lock()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        log.info("%s %s", self.address_string(), format % args)

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str) -> None:
        # The body may be unread (too big, bad length): do not reuse this connection.
        self.close_connection = True
        self._send(status, {"error": message, "detail": message})

    def _body(self) -> dict[str, Any]:
        length = self.headers.get("Content-Length")
        if length is None:
            raise BadRequest("a JSON body with a Content-Length header is required")
        try:
            size = int(length)
        except ValueError:
            raise BadRequest("bad Content-Length header") from None
        if size < 0 or size > MAX_BODY_BYTES:
            raise BadRequest(f"body must be between 0 and {MAX_BODY_BYTES} bytes")
        raw = self.rfile.read(size)
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadRequest(f"body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise BadRequest("body must be a JSON object")
        return body

    def do_GET(self) -> None:  # noqa: N802 (stdlib name)
        if self.path.rstrip("/") in ("", "/health"):
            self._send(200, {"status": "ok", "backend": self.backend.name})
        else:
            self._error(
                404, f"no such endpoint: GET {self.path}; use POST /process, /tokenize, /decode"
            )

    def do_POST(self) -> None:  # noqa: N802 (stdlib name)
        route = {"/process": self._process, "/tokenize": self._tokenize, "/decode": self._decode}
        handler = route.get(self.path.rstrip("/"))
        start = time.perf_counter()
        if handler is None:
            self._error(
                404, f"no such endpoint: POST {self.path}; use /process, /tokenize, /decode"
            )
            return
        try:
            body = self._body()
            with self.lock:
                result = handler(body)
        except BadRequest as exc:
            self._error(HTTPStatus.BAD_REQUEST, str(exc))
            return
        except Exception as exc:  # a bug or an OOM: tell the client, keep serving
            log.exception("request failed")
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"{type(exc).__name__}: {exc}")
            return
        result["request_time"] = time.perf_counter() - start
        self._send(200, result)

    def _process(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.backend.process(parse_process(body))

    def _tokenize(self, body: dict[str, Any]) -> dict[str, Any]:
        text = body.get("text")
        if not isinstance(text, str):
            raise BadRequest("field 'text' is required and must be a string")
        truncation = _field(body, "truncation", bool, False)
        max_length = _field(body, "max_length", int, None)
        if max_length is not None and max_length < 0:
            raise BadRequest("field 'max_length' must be >= 0")
        return {"tokens": self.backend.tokenize(text, truncation, max_length)}

    def _decode(self, body: dict[str, Any]) -> dict[str, Any]:
        tokens = body.get("tokens")
        if not isinstance(tokens, list) or not all(
            isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in tokens
        ):
            raise BadRequest("field 'tokens' is required and must be a list of non-negative ints")
        return {"text": self.backend.decode(tokens)}


def main() -> int:
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    weights = Path(os.environ.get("PODIUM_WEIGHTS_DIR", "/weights"))
    host = os.environ.get("HOST", "0.0.0.0")
    port = int(os.environ.get("PORT", "80"))
    t0 = time.perf_counter()
    Handler.backend = make_backend(weights)
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    log.info(
        "ready in %.1fs: %s backend on http://%s:%d",
        time.perf_counter() - t0,
        Handler.backend.name,
        host,
        port,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
