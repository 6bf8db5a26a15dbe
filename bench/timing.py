"""Interleaved, contention-aware timing for a shared, noisy 2-core machine.

Competing variants run in alternating rounds (A B, B A, ...), each in a
worker process of its own (bench/worker.py) or, for in-process variants,
inside this one, so load from elsewhere hits all of them alike.  That is not enough on its own: with
every core in use, PyTorch's OpenMP barriers wait for descheduled threads and
a 2-thread torch step gets up to 30x slower, while XLA's pool degrades far
less, which would bias ratios in JAX's favour.  So each sample also records
how many cores *other* processes used meanwhile (from /proc/stat minus our
own rusage); samples taken while others used more than `max_other` cores are
set aside, and we wait for quiet before each round.
"""

from __future__ import annotations

import os
import resource
import statistics
import time
from collections.abc import Callable

_TICK = os.sysconf('SC_CLK_TCK')
# Seconds each round may wait for a quiet machine; the suite's --quiet_wait sets it.
QUIET_WAIT = 10.0
# Extra rounds tried (as a multiple of `rounds`) when others were busy; 1 = never retry.
RETRY_FACTOR = 3


def _cpu_counters() -> tuple[float, float]:
  """(all processes' busy CPU seconds, our own CPU seconds)."""
  try:
    with open('/proc/stat') as f:
      v = [int(t) for t in f.readline().split()[1:]]
    busy = (sum(v[:8]) - v[3] - v[4]) / _TICK  # minus idle and iowait
  except OSError:
    busy = float('nan')
  r = resource.getrusage(resource.RUSAGE_SELF)
  return busy, r.ru_utime + r.ru_stime


class _Meter:
  """Cores used by other processes between start() and stop()."""

  def __init__(self):
    self.t, (self.busy, self.own) = time.perf_counter(), _cpu_counters()

  def other_cores(self) -> float:
    busy, own = _cpu_counters()
    dt = time.perf_counter() - self.t
    return max(0.0, ((busy - self.busy) - (own - self.own)) / max(dt, 1e-9))


def meter() -> _Meter:
  """Starts counting the cores other processes use; read with `.other_cores()`."""
  return _Meter()


def other_load(window: float = 0.5) -> float:
  """Cores other processes keep busy, sampled over `window` seconds."""
  m = _Meter()
  time.sleep(window)
  return m.other_cores()


def wait_quiet(max_other: float = 0.3, max_wait: float = 30.0, window: float = 0.5) -> float:
  """Sleep until others use < max_other cores (or max_wait passes)."""
  t0 = time.perf_counter()
  while True:
    load = other_load(window)
    if load < max_other or time.perf_counter() - t0 > max_wait:
      return load


def rate(fn: Callable[[], int], min_time: float = 0.5) -> tuple[float, float]:
  """(items/s of `fn`, cores used by others meanwhile); fn returns #items."""
  n, m, t0 = 0, _Meter(), time.perf_counter()
  while True:
    n += fn()
    dt = time.perf_counter() - t0
    if dt >= min_time:
      return n / dt, m.other_cores()


def interleave(
  fns: dict[str, Callable[[], int]],
  rounds: int = 5,
  min_time: float = 0.5,
  warmup: int = 1,
  **kw,
) -> dict[str, dict]:
  """`interleave_rounds` of in-process callables (fn() returns #items); warmed up first."""
  for fn in fns.values():
    for _ in range(warmup):
      fn()
  return interleave_rounds(
    {k: (lambda t, fn=fn: rate(fn, t)) for k, fn in fns.items()}, rounds, min_time, **kw
  )


def interleave_rounds(
  round_fns: dict[str, Callable[[float], tuple[float, float]]],
  rounds: int = 5,
  min_time: float = 0.5,
  max_other: float = 0.3,
  max_rounds: int | None = None,
  quiet_wait: float | None = None,
) -> dict[str, dict]:
  """Median rate of each variant over `rounds` clean round-robin rounds (A B, then B A, ...).

  `round_fns[k](min_time)` times one round of variant k and returns (items/s, cores others
  used meanwhile): in this process (`interleave`) or in a worker process of its own
  (bench/worker.py). A round is clean if, for every variant, other processes used < max_other
  cores. Up to `max_rounds` (default RETRY_FACTOR * rounds) are tried; if too few are clean
  the least-contended rounds are used and 'clean' is False. Each entry also keeps the
  1-minute load average before and after, for the record.
  """
  max_rounds = max_rounds or RETRY_FACTOR * rounds
  quiet_wait = QUIET_WAIT if quiet_wait is None else quiet_wait
  load_before = loadavg()
  all_rounds = []
  for r in range(max_rounds):
    if quiet_wait:
      wait_quiet(max_other, quiet_wait)
    order = list(round_fns) if r % 2 == 0 else list(round_fns)[::-1]
    this = {k: round_fns[k](min_time) for k in order}
    all_rounds.append(this)
    if sum(max(o for _, o in rd.values()) < max_other for rd in all_rounds) >= rounds:
      break
  worst = lambda rd: max(o for _, o in rd.values())
  clean = [rd for rd in all_rounds if worst(rd) < max_other]
  used = clean if len(clean) >= rounds else sorted(all_rounds, key=worst)[:rounds]
  load = [load_before, loadavg()]
  out = {}
  for k in round_fns:
    v = [rd[k][0] for rd in used]
    out[k] = {
      'median': statistics.median(v),
      'min': min(v),
      'max': max(v),
      'samples': v,
      'other_cores': max(rd[k][1] for rd in used),
      'clean': len(clean) >= rounds,
      'rounds_tried': len(all_rounds),
      'loadavg': load,
    }
  return out


def loadavg() -> float | None:
  """The 1-minute load average (/proc/loadavg), or None where there is none."""
  try:
    with open('/proc/loadavg') as f:
      return float(f.read().split()[0])
  except OSError:
    return None


def timed(fn: Callable[[], object]) -> tuple[object, float]:
  """(result, seconds) of one call."""
  t0 = time.perf_counter()
  out = fn()
  return out, time.perf_counter() - t0
