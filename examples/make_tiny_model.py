"""Write a tiny, randomly initialised GPT-2 with a byte-level tokenizer into a directory.

It stands in for real weights in tests and local trials of the reference submission: a few
hundred KB, made offline in about a second, loadable with `AutoTokenizer` /
`AutoModelForCausalLM` like any Hugging Face checkpoint.

    python -m examples.make_tiny_model DIR        # from the repository root
    python examples/make_tiny_model.py DIR [--seed N]

The tokenizer is `ByT5Tokenizer` (one token per UTF-8 byte, plus <pad>, </s>, <unk> and 125
<extra_id_N> tokens), built from its constructor, so nothing is downloaded. The model's
weights are drawn with a large initializer range and the embeddings of every token but
printable ASCII bytes are shrunk, so greedy output of the random model is varied, printable
text: tests can pick stop sequences from it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

N_LAYER = 2
N_EMBD = 64
N_HEAD = 2
N_POSITIONS = 2048
DEFAULT_SEED = 1234
# Much larger than GPT-2's 0.02: the random network's greedy output then varies with the context
# instead of repeating one byte, which makes stop-sequence and determinism tests meaningful.
INITIALIZER_RANGE = 0.4
BYTE_OFFSET = 3  # ByT5: byte b is token id b + 3 (0 <pad>, 1 </s>, 2 <unk>)


def make_tiny_model(out_dir: str | Path, seed: int = DEFAULT_SEED) -> Path:
    """Create the tokenizer and model in `out_dir`, load both back to check, return the path."""
    import torch
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        ByT5Tokenizer,
        GPT2Config,
        GPT2LMHeadModel,
    )

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    tokenizer = ByT5Tokenizer()
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=N_POSITIONS,
        n_embd=N_EMBD,
        n_layer=N_LAYER,
        n_head=N_HEAD,
        initializer_range=INITIALIZER_RANGE,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(config)
    with torch.no_grad():
        # Input and output embeddings are tied: a small row means a small logit for that token.
        keep = torch.zeros(len(tokenizer), dtype=torch.bool)
        keep[BYTE_OFFSET + 32 : BYTE_OFFSET + 127] = True  # printable ASCII
        model.transformer.wte.weight[~keep] *= 0.01
    model.eval()

    tokenizer.save_pretrained(out)
    model.save_pretrained(out, safe_serialization=True)

    # Load back the way a server does, to catch a checkpoint that only looks right.
    loaded_tok = AutoTokenizer.from_pretrained(out)
    loaded = AutoModelForCausalLM.from_pretrained(out)
    ids = loaded_tok("hello", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        logits = loaded(ids).logits
    if len(loaded_tok) != config.vocab_size or logits.shape[-1] != config.vocab_size:
        raise RuntimeError(f"tiny model in {out} does not load back consistently")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", help="directory to write config, weights and tokenizer to")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    out = make_tiny_model(args.out_dir, seed=args.seed)
    files = sorted(p.name for p in out.iterdir())
    sys.stdout.write(f"tiny GPT-2 written to {out}: {', '.join(files)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
