"""Many workers on one sweep: which groups a process may train, and N local worker processes.

Every worker claims a group under a lease in the work dir (engine/group_lease.py) before
training it, so workers need no coordinator: `--workers=N` starts N processes of this command on
this machine, which take the unfinished groups in turn;
`--worker=i/n` (or `--worker=slurm`, from a SLURM job array's task id and count) trains only
the groups whose index is i modulo n, so the tasks of a job array split a sweep between them and
a re-queued task cannot collide with a running one. The worker that finishes the last group
writes the report.
"""

import contextlib
import dataclasses
import os
import re
import subprocess
import sys
import threading
import time

from engine.errors import UserError

DEFAULT_LEASE_SECS = 120.0
CPU_MODES = ('share', 'all')


@dataclasses.dataclass(frozen=True)
class Worker:
  """This process's part of a sweep: groups `index` modulo `count`, leases of `lease_secs`."""

  index: int = 0
  count: int = 1
  lease_secs: float = DEFAULT_LEASE_SECS

  def assigned(self, group_index: int) -> bool:
    return group_index % self.count == self.index

  def __str__(self) -> str:
    return f'worker {self.index}/{self.count}' if self.count > 1 else 'worker'


def _shard(text: str, environ) -> tuple[int, int]:
  if text == 'slurm':
    task, count = environ.get('SLURM_ARRAY_TASK_ID'), environ.get('SLURM_ARRAY_TASK_COUNT')
    if task is None or count is None:
      raise UserError(
        '--worker=slurm reads $SLURM_ARRAY_TASK_ID and $SLURM_ARRAY_TASK_COUNT, which are set '
        'only inside a SLURM job array (sbatch --array=0-3); outside one, pass --worker=i/n.'
      )
    first = environ.get('SLURM_ARRAY_TASK_MIN', '0')
    if not (task.isdigit() and count.isdigit() and first.isdigit()):
      raise UserError(f'$SLURM_ARRAY_TASK_ID={task!r} / _COUNT={count!r} are not integers.')
    # task ids run from --array's first value (often 0 or 1) and are dense for i-j ranges
    return int(task) - int(first), int(count)
  m = re.fullmatch(r'\s*(\d+)\s*/\s*(\d+)\s*', text)
  if not m:
    raise UserError(
      f'--worker={text!r} is not of the form i/n: pass --worker=0/4 for the first of 4 '
      'workers (indices from 0), or --worker=slurm inside a SLURM job array.'
    )
  return int(m.group(1)), int(m.group(2))


def from_flags(
  workers: int, worker: str, lease_secs: float, cpus: str = 'all', environ=os.environ
) -> Worker:
  """Checks the worker flags before anything is written; returns this process's Worker."""
  if workers < 1:
    raise UserError(
      f'--workers={workers}: the number of local worker processes must be at least 1 '
      '(1, the default, trains in this process).'
    )
  if not lease_secs > 0:
    raise UserError(
      f'--lease_secs={lease_secs}: a lease must last a positive number of seconds (default '
      f'{DEFAULT_LEASE_SECS:g}); its holder refreshes it every quarter of that.'
    )
  if cpus not in CPU_MODES:
    raise UserError(f'--worker_cpus={cpus!r}: pick one of {", ".join(CPU_MODES)}.')
  if not worker:
    return Worker(0, 1, lease_secs)
  if workers > 1:
    raise UserError(
      f'--workers={workers} and --worker={worker} together: --workers starts local processes '
      'that share every group; --worker=i/n makes this process one shard of a cluster job. '
      'Pass one of them.'
    )
  index, count = _shard(worker, environ)
  if count < 1 or not 0 <= index < count:
    raise UserError(
      f'--worker={worker} means worker {index} of {count}, but workers are numbered 0 to '
      f'n-1 of n >= 1 (e.g. --worker=0/2 and --worker=1/2).'
    )
  return Worker(index, count, lease_secs)


def cpu_shares(n: int, cpus=None) -> list[list[int]]:
  """The cores of each of `n` workers: this process's cores dealt out in turn."""
  cpus = sorted(os.sched_getaffinity(0) if cpus is None else cpus)
  if n >= len(cpus):
    return [[cpus[i % len(cpus)]] for i in range(n)]
  return [cpus[i::n] for i in range(n)]


def spawn(n: int, argv, *, cpus: str = 'all', env=None, started: float | None = None) -> int:
  """Runs `argv` (a launch.py command line) as `n` worker processes; returns the worst exit code.

  Each worker's output lines are prefixed with `[worker i]`. With `cpus='all'` every worker may
  use every core, so each sizes XLA:CPU's thread pools as a single process would and computes the
  same bits. With `cpus='share'` each is pinned to its share of the cores: no oversubscription,
  but a convolution split over fewer threads is rounded differently. `started` (default: now)
  is the job's start, which every worker is given as --job_started.
  """
  started = time.time() if started is None else started
  command = [sys.executable, *argv, '--workers=1', '--noprogress', f'--job_started={started!r}']
  shares = cpu_shares(n) if cpus == 'share' and hasattr(os, 'sched_setaffinity') else [None] * n
  procs, pumps = [], []
  for i, share in enumerate(shares):
    proc = subprocess.Popen(
      command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1
    )
    if share:  # at once, long before the worker has imported jax and sized XLA's thread pools
      with contextlib.suppress(ProcessLookupError):
        os.sched_setaffinity(proc.pid, share)
    procs.append(proc)
    for stream, out in ((proc.stdout, sys.stdout), (proc.stderr, sys.stderr)):
      pump = threading.Thread(target=_pump, args=(stream, out, f'[worker {i}] '), daemon=True)
      pump.start()
      pumps.append(pump)
  codes = []
  for proc in procs:
    try:
      codes.append(proc.wait())
    except KeyboardInterrupt:  # the terminal sent SIGINT to the workers too; let them save
      codes.append(proc.wait())
  for pump in pumps:
    pump.join()
  return max(codes, key=lambda c: (c != 0, abs(c)))


def _pump(stream, out, prefix):
  for line in stream:
    out.write(prefix + line)
    out.flush()
