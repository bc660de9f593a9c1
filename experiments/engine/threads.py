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
cores instead of 2 of 4). What each run does is measure the other load while it trains (`LoadMeter`):
it is said in the log after the first epoch it slowed and recorded beside the thread count, so a
slow run has its reason.
A count the user pins (CNN_REPORT_THREADS, or OMP_NUM_THREADS) is used as it is, as is the count
a Ray task was given (`pin`).
"""
from __future__ import annotations

import os

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


def _cpu_seconds() -> tuple[float, float] | None:
    """(busy, total) CPU seconds of the whole machine since boot, or None without /proc/stat."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(fields[:8]) - idle) / tick, sum(fields[:8]) / tick


def _own_seconds() -> float:
    """CPU seconds this process (all its threads) has used."""
    t = os.times()
    return t.user + t.system


class LoadMeter:
    """Cores' worth of CPU that other processes used since the meter started: the machine's busy
    time less this process's own, over the same span. It reads two counters and waits for nothing,
    so it measures the load over the run it is about, not over a sample taken before it."""

    def __init__(self):
        self._start, self._own = _cpu_seconds(), _own_seconds()
        self._said = False

    def busy_elsewhere(self) -> float | None:
        now = _cpu_seconds()
        if self._start is None or now is None or now[1] <= self._start[1]:
            return None
        others = (now[0] - self._start[0]) - (_own_seconds() - self._own)
        return round(max(0.0, (os.cpu_count() or 1) * others / (now[1] - self._start[1])), 2)

    def say_once(self, name: str, threads: int, log=print) -> None:
        """Say in the log, once, that other processes slow this run, when they do."""
        busy = self.busy_elsewhere()
        if not self._said and busy is not None and busy >= BUSY:
            log(f"{name}: other processes keep {busy:.1f} of {os.cpu_count()} cores busy; this run shares them "
                f"and is slower than alone ({threads} thread(s))")
            self._said = True


def user_threads() -> int | None:
    """The thread count the user pinned in the environment, if any; a CNN_REPORT_THREADS that is
    not a positive whole number is a mistake worth one clear message."""
    value = os.environ.get("CNN_REPORT_THREADS", "").strip()
    if value:
        if not (value.isdigit() and int(value) > 0):
            from experiments.engine.errors import UserError
            raise UserError(f"CNN_REPORT_THREADS={value!r}: give a positive whole number of threads, or unset it")
        return int(value)
    value = os.environ.get("OMP_NUM_THREADS", "").strip()  # OpenMP's own (it allows lists): used when plain
    return int(value) if value.isdigit() and int(value) > 0 else None


def cores_alone() -> int:
    """The threads a run uses: pinned, the user's, or one per core. CPU time divided by it says
    what a run costs here alone, whatever share of the cores it had (the work, not the wall clock)."""
    return _pinned or user_threads() or cores()


def threads_for_run() -> int:
    """Set torch's threads for the run about to start (`cores_alone`) and return the count."""
    import torch
    n = cores_alone()
    torch.set_num_threads(n)
    return n
