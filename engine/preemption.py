"""Interrupts a run can survive: Ctrl-C (SIGINT) and preemption (SIGTERM).

SLURM, Kubernetes and spot VMs send SIGTERM some seconds before SIGKILL. `install()` turns it into
`Preempted`, a KeyboardInterrupt, so the loop saves the exact step on it as on Ctrl-C; launch.py
then marks status.json "preempted" and exits with `EXIT_CODE`. Either signal arriving inside
`deferred()` (a program call and the assignment of its result, an epoch's bookkeeping, a save)
is raised when that block ends, so an interrupt never leaves half-updated state or a half-written
checkpoint behind.

In a job of several processes `jax.distributed` owns SIGTERM, to any one process or to all: its
preemption service tells every process and they agree on a `sync_point()`, the first check after
the notice that none of them has passed. There every process saves the same position (orbax's
PreemptionCheckpointingPolicy, engine/checkpoints.py) and the loop raises `Preempted`.
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


_checks = 0  # calls of sync_point() in this process
_agreed = False


def sync_point() -> bool:
  """Whether the processes of a job have agreed to save and stop at this check; False where no
  job was joined or no SIGTERM came.

  jax's preemption service puts the agreed check one past the largest count of checks any
  process had made when the notice came, so it is reached only if each check counts exactly one
  and every process checks at the same points of the same program (after each program call).
  Orbax would count the checkpoint step instead, which jumps here (a call runs many steps).
  """
  global _checks, _agreed
  if not _agreed:
    from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top

    _checks += 1
    try:
      _agreed = multihost_utils.reached_preemption_sync_point(_checks)
    except RuntimeError:  # the service is off (jax_enable_preemption_service=False)
      pass
  return _agreed


def agreed() -> bool:
  """Whether `sync_point()` has been reached: the save now due is the job's preemption save."""
  return _agreed
