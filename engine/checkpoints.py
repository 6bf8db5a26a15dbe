"""Orbax checkpoints of a group's training: states, partial epoch sums, metric history, position.

Every save carries a sha256 of the saved arrays' bytes in its orbax custom metadata, and a restore
is checked against it: orbax reads garbled bytes without complaint (compressed chunks decode to
wrong numbers), so a checkpoint is trusted only when its own checksum agrees. A checkpoint that
cannot be read or does not agree is reported in one line and the next older one is tried; with
none left the group starts from scratch.
"""

import hashlib
import json
import os

import jax
import numpy as np
import orbax.checkpoint as ocp
from etils import epath
from orbax.checkpoint import checkpoint_managers as policies

from engine import files, preemption
from engine.errors import UserError

ORBAX_REMOTE = ('gs',)  # orbax builds tensorstore kvstores for local paths and gs:// only


def storage_path(directory) -> epath.Path:
  """`directory` as orbax takes it: an absolute local path, or a remote URI left as it is."""
  text = os.fspath(directory)
  return epath.Path(text if files.is_remote(text) else os.path.abspath(text))


def check_workdir(workdir: str) -> None:
  """UserError for a remote work dir orbax cannot write checkpoints to (s3://, az://)."""
  scheme = os.fspath(workdir).partition(':')[0]
  if files.is_remote(workdir) and scheme not in ORBAX_REMOTE:
    raise UserError(
      f'--workdir={workdir}: training keeps orbax checkpoints in the work dir, and orbax writes '
      f'checkpoint arrays (through tensorstore) to local paths and gs:// only, not {scheme}://. '
      'Pass a gs:// URI, a local or shared (NFS) path, or the path where the bucket is mounted '
      '(s3fs-fuse, mountpoint-s3, blobfuse2). Findings without training (a `measure` hook) '
      f'write to {scheme}:// as they are.'
    )


class _Manager(ocp.CheckpointManager):
  """Orbax's manager, told of a preemption by `preemption.sync_point()`.

  Orbax would ask jax's preemption service itself, passing the step being saved; jax then
  expects each process to pass every integer in turn, and these steps jump (a program call runs
  many steps, an epoch end has ids of its own), so the agreed point would be skipped and the
  SIGTERM ignored until SIGKILL.
  """

  def reached_preemption(self, step: int) -> bool:
    del step
    return preemption.agreed()


def manager(directory: str, max_to_keep: int = 2, every_secs: float | None = None):
  """A CheckpointManager whose `should_save(step)` is orbax's own decision: at least `every_secs`
  since the last checkpoint (None: never by time), or a preemption agreed on by the processes of
  a job. Leftover temporary directories of a killed save are removed when it opens.
  """
  save_policies = [policies.PreemptionCheckpointingPolicy()]
  if every_secs is not None:
    save_policies.append(policies.ContinuousCheckpointingPolicy(minimum_interval_secs=every_secs))
  return _Manager(
    storage_path(directory),
    options=ocp.CheckpointManagerOptions(
      max_to_keep=max_to_keep,
      create=True,
      cleanup_tmp_directories=True,
      save_decision_policy=policies.AnySavePolicy(save_policies),
    ),
  )


def checksum(tree) -> str | None:
  """sha256 over every leaf's path, dtype, shape and bytes; None where a leaf is not all here
  (several processes each hold part of it)."""
  leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
  digest = hashlib.sha256()
  for path, leaf in leaves:
    if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
      return None
    a = np.ascontiguousarray(jax.device_get(leaf))
    digest.update(f'{jax.tree_util.keystr(path)}|{a.dtype.str}|{a.shape}|'.encode())
    digest.update(a.tobytes())
  return digest.hexdigest()


def save(mngr: ocp.CheckpointManager, step: int, tree) -> None:
  """Saves `tree` at `step` with its checksum and waits, so a kill right after never leaves only
  a partial save; an interrupt arriving meanwhile is raised once the save is complete."""
  if step in mngr.all_steps():
    return
  with preemption.deferred():
    try:
      mngr.save(
        step,
        args=ocp.args.StandardSave(tree),
        custom_metadata={'sha256': checksum(tree)},
        force=True,
      )
      mngr.wait_until_finished()
    except Exception:
      _remove_partial(mngr.directory, step)  # a full disk gets its space back for status.json
      raise


class Unusable(Exception):
  """A checkpoint that cannot be read, or whose contents disagree with its checksum."""


def _restore(mngr, step, target):
  try:
    tree = mngr.restore(step, args=ocp.args.StandardRestore(target))
    wanted = _saved_checksum(mngr, step)
  except Exception as e:  # orbax, tensorstore and json raise many kinds for a damaged file
    raise Unusable(_first_line(e)) from None
  got = checksum(tree) if wanted else None
  if got is not None and got != wanted:
    raise Unusable(
      f'its contents do not match the checksum saved with it ({got[:12]} != {wanted[:12]}): '
      'the files were changed or damaged after the save'
    )
  return tree, wanted is not None


def _saved_checksum(mngr, step) -> str | None:
  """The checksum saved with `step`; None if it has none (an older version wrote it). Orbax
  only logs a damaged metadata file and carries on, so it is read here."""
  metadata = epath.Path(mngr.directory) / str(step) / '_CHECKPOINT_METADATA'
  if metadata.exists():
    json.loads(metadata.read_text())  # ValueError if damaged
  return (mngr.metadata(step).custom_metadata or {}).get('sha256')


def _first_line(e: Exception) -> str:
  text = str(e).strip().splitlines()
  return f'{type(e).__name__}: {text[0][:200]}' if text else type(e).__name__


def restore_latest(mngr: ocp.CheckpointManager, target, log=print):
  """Returns `(step, tree)` of the newest usable checkpoint shaped like `target`, or
  `(None, target)`. Each unusable one is reported in one line through `log` and deleted, so the
  run falls back to the one before it, or to the start."""
  steps = sorted(mngr.all_steps(), reverse=True)
  for step in steps:
    try:
      tree, verified = _restore(mngr, step, target)
    except Unusable as e:
      log(f'checkpoint {step} in {mngr.directory} is unusable ({e}); deleting it.')
      _delete(mngr, step)
      continue
    if not verified:
      log(
        f'checkpoint {step} in {mngr.directory} has no checksum (an older version, or a job of '
        'several processes, wrote it); resuming from it unverified.'
      )
    return step, tree
  if steps:
    log(f'no usable checkpoint in {mngr.directory}: this group restarts from scratch.')
  return None, target


def _remove(directory, keep) -> None:
  """Removes the entries of `directory` whose name `keep` rejects, ignoring failures as
  shutil.rmtree(ignore_errors=True) does: local or remote (where a directory is a prefix)."""
  try:
    children = [c for c in epath.Path(directory).iterdir() if not keep(c.name)]
  except Exception:  # pylint: disable=broad-except
    return
  for child in children:
    try:
      if child.is_dir():
        child.rmtree()
      else:
        child.unlink()
    except Exception:  # pylint: disable=broad-except
      pass


def _remove_partial(directory, step) -> None:
  _remove(directory, lambda name: not name.startswith(f'{step}.orbax-checkpoint-tmp'))


def _delete(mngr, step):
  try:
    mngr.delete(step)
  except Exception:  # pylint: disable=broad-except
    pass
  _remove(mngr.directory, lambda name: not (name == str(step) or name.startswith(f'{step}.')))
  mngr.reload()


def restore_variables(directory: str, index: int = 0) -> dict:
  """The linen variables of model `index` of a group, from the newest checkpoint in `directory`.

  For using a trained model after its run (evaluation, classifying new images); shaped from the
  checkpoint's own metadata, so no model or optimizer needs to be built first, and restored onto
  this process's first device, whatever devices or processes the run had.
  """
  directory = storage_path(directory)
  if not directory.is_dir():
    raise FileNotFoundError(f'no checkpoints in {directory}')
  with ocp.CheckpointManager(directory, item_handlers=ocp.StandardCheckpointHandler()) as mngr:
    step = mngr.latest_step()
    if step is None:
      raise FileNotFoundError(f'no checkpoints in {directory}')
    here = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    target = jax.tree.map(
      lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=here), mngr.item_metadata(step)
    )
    states = mngr.restore(step, args=ocp.args.StandardRestore(target))['states']
  pick = lambda tree: jax.tree.map(lambda a: a[index], tree)
  variables = {'params': pick(states['params'])}
  if states.get('batch_stats'):
    variables['batch_stats'] = pick(states['batch_stats'])
  return variables
