"""Threads for a run on a machine it may share (a browser, an IDE, a second build).

Waiting threads sleep (OMP_WAIT_POLICY=PASSIVE, set by experiments/__init__.py before torch loads):
a thread with nothing to do gives its core back, which costs nothing alone. A run uses one thread per
core the other processes leave it (`fair_threads`): decided at its start from a short sample of their
load, and again after each epoch from that epoch's (`FairThreads`). Beside a process that keeps one of
two cores busy, two threads leave one of them waiting at every barrier for the shared core: an
epoch took 4.1x its time alone on the AVX-512 bf16 EPYC, where one thread on the free core is the
fair share, 2x (docs/measurements.md, "A busy machine"). The load each run saw is recorded beside
its threads and said in the log once it slowed the run (`LoadMeter`).
A count the user pins (CNN_REPORT_THREADS, or OMP_NUM_THREADS) is used as it is, as is the count
a Ray task was given (`pin`).
"""
from __future__ import annotations

import os
import time

BUSY = 0.5  # cores' worth of other work worth a line in the log
BUSY_CORE = 0.75  # a core the others use this much of is theirs: a thread there would hold up the rest
LOAD_SAMPLE_S = 0.25  # how long a run's start samples the others' load
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
                f"and is slower than alone ({threads} thread{'s' if threads != 1 else ''})")
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


def fair_threads(busy: float | None) -> int:
    """Threads for a run beside `busy` cores' worth of other processes' work: one per core they leave
    (a core counts as theirs from BUSY_CORE of it), at least one; the pinned or the user's count as it is."""
    if _pinned or user_threads() or busy is None:
        return cores_alone()
    return max(1, cores() - int(busy + 1 - BUSY_CORE))


def others_busy(seconds: float = LOAD_SAMPLE_S) -> float | None:
    """Cores' worth of other processes' work over a short sample."""
    meter = LoadMeter()
    time.sleep(seconds)
    return meter.busy_elsewhere()


class FairThreads:
    """A run's torch threads (`fair_threads`): set at its start from a sample of the others' load, and
    after each epoch from the load over that epoch."""

    def __init__(self):
        self.first = self.threads = _set_threads(fair_threads(others_busy() if not _pinned and not user_threads()
                                                              else None))
        self._meter = LoadMeter()

    def after_epoch(self) -> int:
        busy, self._meter = self._meter.busy_elsewhere(), LoadMeter()
        self.threads = _set_threads(fair_threads(busy))
        return self.threads


def _set_threads(n: int) -> int:
    import torch
    torch.set_num_threads(n)
    return n


def threads_for_run() -> int:
    """Set torch's threads for the run about to start (`fair_threads` from a sample) and return the count."""
    return FairThreads().threads
