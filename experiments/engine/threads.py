"""Threads for a run on a machine it may share (a browser, an IDE, a second build).

Measured on the 2-core AMD EPYC (AVX2) of 2026-11-29, one epoch of quick's search (gap-s, 10,000
images), alone and beside a process training a convnet on two torch threads:

    OpenMP's default waiting, 2 threads   alone 27.9-29.9 s   loaded 54.7-55.7 s (1.9x)
    waiting threads sleep,    2 threads   alone 28.6-29.6 s   loaded 47.6 s      (1.6x)
    waiting threads sleep,    1 thread                        loaded 63.1-65.9 s (2.2x)

So waiting threads sleep (OMP_WAIT_POLICY=PASSIVE, set by experiments/__init__.py before torch
loads): a thread with nothing to do gives its core back, which costs nothing alone. And a run keeps
one thread per core even when other processes keep cores busy: the scheduler shares a core between
threads, not processes, so fewer threads would only shrink the run's share (1 of 3 threads on 2
cores instead of 2 of 4). What each run does decide is to measure the load when it starts: it is
recorded beside the thread count and said in the log, so a slow epoch has its reason.
A count the user pins (CNN_REPORT_THREADS, or OMP_NUM_THREADS) is used as it is, as is the count
a Ray task was given (`pin`).
"""
from __future__ import annotations

import os
import time

SAMPLE_SECONDS = 0.1  # ten clock ticks a core: enough to see half a core busy, short beside a run
BUSY = 0.5  # cores' worth of other work worth a line in the log
_pinned: int | None = None


def pin(threads: int | None) -> None:
    """Use exactly `threads` from now on (None: every core again)."""
    global _pinned
    _pinned = threads


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _cpu_times() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs since boot, or None where /proc/stat is not there."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields[:8]) - idle, sum(fields[:8])


def busy_elsewhere(sample_seconds: float = SAMPLE_SECONDS) -> float | None:
    """Cores' worth of CPU other processes used over a short sample (this one sleeps through it),
    or None where it cannot be measured."""
    before = _cpu_times()
    if before is None:
        return None
    time.sleep(sample_seconds)
    after = _cpu_times()
    if after is None or after[1] <= before[1]:
        return None
    return round((os.cpu_count() or 1) * (after[0] - before[0]) / (after[1] - before[1]), 2)


def user_threads() -> int | None:
    """The thread count the user pinned in the environment, if any."""
    for name in ("CNN_REPORT_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return None


def cores_alone() -> int:
    """The threads a run uses: pinned, the user's, or one per core. CPU time divided by it says
    what a run costs here alone, whatever share of the cores it had (the work, not the wall clock)."""
    return _pinned or user_threads() or cores()


def threads_for_run(name: str = "run", log=print) -> dict:
    """Set torch's threads for the run about to start; measure the other load on the machine and
    say it when it will slow the run. Returns {"threads", "busy_elsewhere"} for the run's record."""
    import torch
    n = cores_alone()
    torch.set_num_threads(n)
    busy = busy_elsewhere()
    if busy is not None and busy >= BUSY:
        log(f"{name}: other processes keep {busy:.1f} of {os.cpu_count()} cores busy; this run shares them "
            f"and will be slower than alone ({n} thread(s))")
    return {"threads": n, "busy_elsewhere": busy}
