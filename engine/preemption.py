"""Interrupts a run can survive: Ctrl-C (SIGINT) and preemption (SIGTERM).

SLURM, Kubernetes and spot VMs send SIGTERM some seconds before SIGKILL. `install()` turns it into
`Preempted`, a KeyboardInterrupt, so the loop saves the exact step on it as on Ctrl-C; launch.py
then marks status.json "preempted" and exits with `EXIT_CODE`. Either signal arriving inside
`deferred()` (a program call and the assignment of its result, an epoch's bookkeeping, a save)
is raised when that block ends, so an interrupt never leaves half-updated state or a half-written
checkpoint behind.

In a job of several processes `jax.distributed` owns SIGTERM: its preemption service agrees on a
step at which every process saves (orbax's PreemptionCheckpointingPolicy, engine/checkpoints.py),
and the loop raises `Preempted` after that save.
"""

import contextlib
import signal
import threading

EXIT_CODE = 75  # sysexits.h EX_TEMPFAIL: stopped on request, state saved, rerun to resume
INTERRUPTED_EXIT_CODE = 130  # 128 + SIGINT, as a shell reports Ctrl-C


class Preempted(KeyboardInterrupt):
  """SIGTERM, or a preemption notice agreed on by the processes of a job."""


_pending: list = []  # the signal caught inside deferred(), raised when it ends
_depth = 0


def _exception(signum):
  return Preempted() if signum == signal.SIGTERM else KeyboardInterrupt()


def _handler(signum, frame):
  del frame
  if _depth:
    _pending[:] = [signum]
    return
  raise _exception(signum)


def install(sigterm: bool = True) -> None:
  """Routes SIGINT (and SIGTERM, unless jax.distributed's preemption service owns it) here."""
  if threading.current_thread() is not threading.main_thread():
    return
  signal.signal(signal.SIGINT, _handler)
  if sigterm:
    signal.signal(signal.SIGTERM, _handler)


@contextlib.contextmanager
def deferred():
  """Holds SIGINT/SIGTERM until the block ends, then raises them (nested blocks: the outermost)."""
  global _depth
  _depth += 1
  try:
    yield
  finally:
    _depth -= 1
  if not _depth and _pending:
    signum = _pending.pop()
    raise _exception(signum)
