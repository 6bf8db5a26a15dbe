"""One job over several processes (hosts) through `jax.distributed`, and which process writes.

Every process runs the same program on the same data (the multi-controller model): the
processes' devices form one global mesh (engine/parallel.py) and XLA moves what crosses hosts.
Orbax saves and restores checkpoints from all processes together; every other file (metrics,
reports, plots, TensorBoard) is written by process 0 alone, so the work dir must be on a
filesystem all processes see.
"""

import os

import jax
import numpy as np

from engine.errors import UserError

MODES = ('auto', 'on', 'off')


def cluster_detected(environ=os.environ) -> bool:
  """Whether the environment is one process of a multi-process job that JAX can join itself.

  A SLURM step of several tasks (srun), Open MPI (mpirun), or an explicit coordinator address.
  A TPU VM slice is not told apart from a single TPU VM without asking its metadata server,
  so there pass --distributed=on.
  """
  if environ.get('JAX_COORDINATOR_ADDRESS'):
    return True
  if 'SLURM_JOB_ID' in environ and 'SLURM_STEP_NODELIST' in environ:
    return int(environ.get('SLURM_NTASKS', '1')) > 1
  return int(environ.get('OMPI_COMM_WORLD_SIZE', '1')) > 1


def initialize(
  mode='auto', coordinator_address=None, num_processes=None, process_id=None, environ=os.environ
) -> bool:
  """Joins the job's processes with `jax.distributed.initialize`; returns whether it did.

  `mode` auto joins when an address, process count or id is given (or in $JAX_COORDINATOR_ADDRESS,
  $JAX_NUM_PROCESSES, $JAX_PROCESS_ID) or `cluster_detected`; on always joins, leaving JAX to
  detect what is not given (SLURM, TPU VM slices, Open MPI, Kubernetes); off never does.
  Must run before anything touches a device.
  """
  if mode not in MODES:
    raise UserError(f'--distributed={mode!r} is not a mode; pick one of {", ".join(MODES)}.')
  address = coordinator_address or environ.get('JAX_COORDINATOR_ADDRESS') or None
  count = _int('num_processes', num_processes, environ.get('JAX_NUM_PROCESSES'))
  index = _int('process_id', process_id, environ.get('JAX_PROCESS_ID'))
  given = {'--coordinator_address': address, '--num_processes': count, '--process_id': index}
  detected = cluster_detected(environ)
  if mode == 'off' or (mode == 'auto' and not detected and all(v is None for v in given.values())):
    return False
  missing = [name for name, v in given.items() if v is None]
  if missing and not detected and mode == 'auto':
    raise UserError(
      'A job of several processes needs all of --coordinator_address, --num_processes and '
      '--process_id (or $JAX_COORDINATOR_ADDRESS, $JAX_NUM_PROCESSES, $JAX_PROCESS_ID); '
      f'{", ".join(missing)} not given. Pass all three on every process, e.g. '
      '--coordinator_address=HOST0:1234 --num_processes=2 --process_id=0 on the first host, '
      'or --distributed=on to let JAX detect them (SLURM, TPU VM slices, Open MPI).'
    )
  try:  # all three given: no detection, which would also pin each process to one GPU
    jax.distributed.initialize(
      coordinator_address=address,
      num_processes=count,
      process_id=index,
      cluster_detection_method='deactivate' if not missing else None,
    )
  except (ValueError, RuntimeError, TypeError) as e:
    raise UserError(
      f'Could not join the job of several processes ({e}). Check that every process got the '
      'same --coordinator_address (host:port of process 0, reachable from all) and '
      '--num_processes, a distinct --process_id from 0, and that process 0 is running; or '
      'pass --distributed=off to run as one process.'
    ) from None
  return True


def _int(name, value, text):
  if value is not None:
    return int(value)
  if text in (None, ''):
    return None
  try:
    return int(text)
  except ValueError:
    raise UserError(f'${"JAX_" + name.upper()} must be an integer; got {text!r}.') from None


def is_writer() -> bool:
  """True in the process that writes files: process 0, or the only process."""
  return jax.process_index() == 0


def agree(value: bool) -> bool:
  """Process 0's `value` in every process of a job (a decision only process 0 can take, such as
  claiming a group's lease); `value` itself in a job of one."""
  if jax.process_count() == 1:
    return value
  from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top

  return bool(multihost_utils.broadcast_one_to_all(np.int32(value)))
