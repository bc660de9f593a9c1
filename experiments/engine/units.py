"""The independent units inside a stage (search candidates, an ablation cell's rates and seeds):
run one after another here, or as Ray tasks when the executor running the stage says so.

The executor passes its way of mapping units for the duration of one stage (`units_mapped_by`);
a stage's code only calls `map_units` and never knows where its units run.
"""
from __future__ import annotations

import contextlib
from contextvars import ContextVar
from typing import Callable


def sequential(fn: Callable, calls: list[tuple]) -> list:
    """One after another, saying how many are done when there are several (a long stage's progress),
    in the words the function carries as `unit_words` ("candidates timed"), else its name."""
    out = []
    what = getattr(fn, "unit_words", fn.__name__)
    for args in calls:
        out.append(fn(*args))
        if len(calls) > 1:
            print(f"  {len(out)} of {len(calls)} done ({what})", flush=True)
    return out


_mapper: ContextVar[Callable] = ContextVar("unit_mapper", default=sequential)


def map_units(fn: Callable, calls: list[tuple]) -> list:
    """fn(*args) for each args in `calls`, results in order. `fn` must be a module-level function
    (an executor may send it to another process by reference)."""
    return _mapper.get()(fn, calls)


@contextlib.contextmanager
def units_mapped_by(mapper: Callable):
    """Inside this block, `map_units` hands its calls to `mapper(fn, calls)`."""
    token = _mapper.set(mapper)
    try:
        yield
    finally:
        _mapper.reset(token)
