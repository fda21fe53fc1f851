from __future__ import annotations

import pytest

from workers.sandbox.logcap import CappedLog, tail_lines


def test_under_the_limit_everything_is_kept() -> None:
    log = CappedLog(100)
    log.feed("hello ")
    log.feed(b"world")
    assert log.text() == "hello world"
    assert not log.truncated


def test_head_and_tail_are_kept_with_a_marker_between() -> None:
    log = CappedLog(20, head_bytes=10)
    for i in range(1000):
        log.feed(f"{i:04d}\n")
    text = log.text()
    assert text.startswith("0000\n0001\n")
    assert text.endswith("0998\n0999\n")
    assert log.dropped_bytes == 5000 - 20
    assert f"[... {5000 - 20} bytes truncated ...]" in text


def test_tail_only_keeps_the_end_and_says_so_first() -> None:
    log = CappedLog(10, head_bytes=0)
    log.feed("a" * 100)
    log.feed("0123456789")
    text = log.text()
    assert text.startswith("[... 100 bytes truncated ...]\n")
    assert text.endswith("0123456789")


def test_one_huge_chunk() -> None:
    log = CappedLog(10)
    log.feed(b"x" * 5 + b"y" * 1_000_000 + b"z" * 5)
    assert log.text().startswith("xxxxx") and log.text().endswith("zzzzz")
    assert log.dropped_bytes == 1_000_000


def test_memory_stays_bounded_with_many_small_chunks() -> None:
    log = CappedLog(1000)
    for _ in range(100_000):
        log.feed(b"0123456789")
        # Reaching into the buffer: the memory bound is the point of this test.
        assert len(log._tail) < 2 * 500 + 10
    assert log.dropped_bytes == 1_000_000 - 1000


def test_a_cut_through_a_multibyte_character_is_replaced_not_raised() -> None:
    log = CappedLog(3, head_bytes=0)
    log.feed("éé")  # 4 bytes: the tail starts inside the first character
    assert log.text().endswith("\ufffdé")


def test_zero_limit_keeps_nothing() -> None:
    log = CappedLog(0)
    log.feed("abc")
    assert log.truncated and "3 bytes truncated" in log.text()


def test_invalid_limits() -> None:
    with pytest.raises(ValueError):
        CappedLog(-1)
    with pytest.raises(ValueError):
        CappedLog(10, head_bytes=11)


def test_tail_lines_skips_blank_lines() -> None:
    assert tail_lines("a\n\nb\nc\n\n", 2) == "b\nc"
