"""Many findings in one job (`--experiment=all`, or a list): each finding taken by one worker.

A job's findings are independent, so N worker processes can run them at once with no
coordinator: each takes the findings in their listed order, skips one that this job has
finished, and claims one that nobody is running with a lease (engine/group_lease.py) in the
job's directory, `<runs>/jobs/all-<start>/`. A finished finding leaves its row there
(`<name>.json`: outcome, wall time, claims), and whoever started the job reads the rows back
for the summary, so the table is the same for one process and for N.

On CPU, N defaults to one worker per core (up to `MAX_DEFAULT_WORKERS`), and every worker may
use every core (`--worker_cpus=all`, the default). Pinning each worker to its own core is
faster, but XLA:CPU splits a convolution over as many threads as the process has cores, and the
split changes how its sums are rounded: the CNN findings then differ from the same finding run
alone in the last bits, and after training by up to half a point of accuracy. Unpinned, every
finding's metrics equal a run of it alone, bit for bit. Measured on 2 cores (Intel Xeon, quiet):
`--experiment=all` one finding after another 30 min 13 s; two workers on every core 23 min 14 s,
the same bits; two pinned workers 21 min 27 s, CNN metrics changed (bench/STUDY.md).
"""

import contextlib
import dataclasses
import os
import time
from collections.abc import Callable, Sequence

from engine import files, group_lease

MAX_DEFAULT_WORKERS = 4


@dataclasses.dataclass(frozen=True)
class Row:
  """One finding's line of the job's summary."""

  finding: str
  outcome: str
  seconds: float
  workdir: str = ''
  worker: str = ''
  claims: tuple = ()

  @property
  def failed(self) -> bool:
    return self.outcome.startswith(('FAILED', 'NOT FINISHED'))


def job_dir(runs: str, started: float) -> str:
  """The directory of the job that started at `started` (its workers get the same time)."""
  stamp = time.strftime('%Y%m%dT%H%M%S', time.localtime(started))
  return os.path.join(runs, 'jobs', f'all-{stamp}-{int(started * 1e6) % 1_000_000:06d}')


def default_workers(backend: str, cpus: int) -> int:
  """One worker per core on CPU (at most MAX_DEFAULT_WORKERS); one process on an accelerator,
  whose programs are its own to schedule."""
  return max(1, min(cpus, MAX_DEFAULT_WORKERS)) if backend == 'cpu' else 1


def _row_path(job: str, name: str) -> str:
  return os.path.join(job, f'{name}.json')


def _read_row(job: str, name: str) -> Row | None:
  path = _row_path(job, name)
  if not os.path.exists(path):
    return None
  fields = files.read_json(path)
  return Row(**{**fields, 'claims': tuple(fields.get('claims', ()))})


def work(
  names: Sequence[str],
  run_one: Callable[[str], Row],
  job: str,
  *,
  worker: str,
  lease_secs: float,
  announce: Callable[[str], None] = print,
) -> list[Row]:
  """Runs every finding of `names` that this job has not finished and nobody else is running;
  returns the rows of those this worker ran. `run_one(name)` trains and judges one finding."""
  ran = []
  for name in names:
    if _read_row(job, name) is not None:
      continue
    got = group_lease.acquire(os.path.join(job, 'leases', f'{name}.json'), lease_secs)
    if not isinstance(got, group_lease.Lease):
      continue
    try:
      with group_lease.heartbeat(got, every=lease_secs / 4):
        if _read_row(job, name) is not None:  # finished by another worker just before
          continue
        announce(f'=== {name}')
        row = dataclasses.replace(run_one(name), worker=worker)
        files.write_json(_row_path(job, name), dataclasses.asdict(row))
        ran.append(row)
    finally:
      with contextlib.suppress(OSError):
        got.release()
  return ran


def collect(names: Sequence[str], job: str, missing: str, ran: Sequence[Row] = ()) -> list[Row]:
  """The job's rows in the order of `names`; a finding without one gets the outcome `missing`.

  `ran` are rows this process ran itself, which count even where it writes no files (a process
  of a jax.distributed job other than process 0)."""
  own = {r.finding: r for r in ran}
  return [own.get(n) or _read_row(job, n) or Row(n, missing, float('nan')) for n in names]
