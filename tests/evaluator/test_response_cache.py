from __future__ import annotations

import threading
from pathlib import Path

from evaluator import MemoryResponseCache, Request, ResponseCache, SqliteResponseCache
from evaluator.cache import completion_key, tokenize_key


def test_both_caches_satisfy_the_protocol(tmp_path: Path) -> None:
    with SqliteResponseCache(tmp_path / "c.sqlite") as sqlite_cache:
        for cache in (MemoryResponseCache(), sqlite_cache):
            assert isinstance(cache, ResponseCache)
            assert cache.get("k") is None
            cache.put("k", {"text": " A", "n": [1, 2]})
            assert cache.get("k") == {"text": " A", "n": [1, 2]}


def test_sqlite_entries_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    cache = SqliteResponseCache(path)
    cache.put("k", {"text": "kept"})
    # No close(): a killed process never gets to close; the commit per put must be enough.
    del cache
    with SqliteResponseCache(path) as reopened:
        assert reopened.get("k") == {"text": "kept"}


def test_sqlite_concurrent_writes_from_threads(tmp_path: Path) -> None:
    with SqliteResponseCache(tmp_path / "c.sqlite") as cache:

        def write(worker: int) -> None:
            for i in range(50):
                cache.put(f"{worker}-{i}", {"worker": worker, "i": i})

        threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(cache) == 400
        assert cache.get("7-49") == {"worker": 7, "i": 49}


def test_completion_key_covers_every_decoding_parameter_and_the_salt() -> None:
    base = Request(prompt="p", temperature=0.0, max_tokens=1, top_k_per_token=5)
    keys = {
        completion_key("neurips2023", base),
        completion_key("neurips2023", base, salt="sha256:image"),
        completion_key("openai", base),
        completion_key(
            "neurips2023", Request(prompt="p", temperature=0.0, max_tokens=2, top_k_per_token=5)
        ),
        completion_key(
            "neurips2023",
            Request(prompt="p", temperature=0.0, max_tokens=1, top_k_per_token=5, seed=1),
        ),
        completion_key(
            "neurips2023",
            Request(
                prompt="p", temperature=0.0, max_tokens=1, top_k_per_token=5, stop_sequences=("\n",)
            ),
        ),
    }
    assert len(keys) == 6
    assert completion_key("neurips2023", base) == completion_key("neurips2023", base)
    assert tokenize_key("neurips2023", "p", False, 2048) != tokenize_key(
        "neurips2023", "p", True, 2048
    )
