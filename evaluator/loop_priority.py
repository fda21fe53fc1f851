"""Keeping the event loop responsive while a suite is planned in a thread beside it.

Planning (parsing data files, drawing, perturbing) is seconds of pure Python on a large suite,
and it runs while the first requests are in flight. Two process-wide settings decide how long
every answer then waits before the event loop handles it:

- the GIL switch interval: each wake-up of the loop (an answer arrived, a tokenizer reply)
  waits for the planning thread to give up the GIL, which it is asked to do only after the
  interval. At Python's default 5 ms the request phase ran 15-25% slower while planning lasted;
  at 0.1 ms a few more thread switches cost little.
- the cyclic garbage collector: parsing allocates hundreds of thousands of objects, so the
  collector runs full collections over the whole heap again and again, each holding the GIL for
  20-120 ms (0.4 s of full collections on the 2023 open conf). While a suite is planned it is
  off; when planning ends, what is alive then (the plans, held to the end of the run) is frozen,
  so later collections skip it, and it is unfrozen when the last run ends.

Both are process-wide, so they are counted: the first planner changes them, the last one
restores them. Nothing here changes what is planned or sent.
"""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# GIL switch interval while a suite is being planned (Python's default is 5 ms).
PLANNING_SWITCH_S = 0.0001

_lock = threading.Lock()
_planners = 0
_runs = 0
_saved_switch_s = sys.getswitchinterval()
_saved_gc_enabled = True


@contextmanager
def planning() -> Iterator[None]:
    """Around planning (in its thread): the loop takes the GIL sooner and no full collection
    stops it; on leaving, the objects alive are frozen out of later collections."""
    global _planners, _saved_switch_s, _saved_gc_enabled
    with _lock:
        if _planners == 0:
            _saved_switch_s = sys.getswitchinterval()
            sys.setswitchinterval(min(_saved_switch_s, PLANNING_SWITCH_S))
            _saved_gc_enabled = gc.isenabled()
            gc.disable()
        _planners += 1
    try:
        yield
    finally:
        with _lock:
            _planners -= 1
            if _planners == 0:
                sys.setswitchinterval(_saved_switch_s)
                gc.freeze()
                if _saved_gc_enabled:
                    gc.enable()


@contextmanager
def run() -> Iterator[None]:
    """Around a whole run: when the last run ends, frozen objects are collectable again (a
    worker runs evaluation after evaluation; each one's plans must be freed after it)."""
    global _runs
    with _lock:
        _runs += 1
    try:
        yield
    finally:
        with _lock:
            _runs -= 1
            if _runs == 0 and _planners == 0:
                gc.unfreeze()
