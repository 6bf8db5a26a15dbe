"""Orbax checkpoints of a group's training: states, partial epoch sums, metric history, position."""

import os

import jax
import orbax.checkpoint as ocp


def manager(directory: str, max_to_keep: int = 2) -> ocp.CheckpointManager:
  return ocp.CheckpointManager(
    os.path.abspath(directory),
    options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True),
  )


def save(mngr: ocp.CheckpointManager, step: int, tree) -> None:
  """Saves `tree` at `step` and waits, so a kill right after never leaves only a partial save."""
  if step in mngr.all_steps():
    return
  mngr.save(step, args=ocp.args.StandardSave(tree))
  mngr.wait_until_finished()


def restore_latest(mngr: ocp.CheckpointManager, target):
  """Returns `(step, tree)` of the newest checkpoint shaped like `target`, or `(None, target)`."""
  step = mngr.latest_step()
  if step is None:
    return None, target
  return step, mngr.restore(step, args=ocp.args.StandardRestore(target))


def restore_variables(directory: str, index: int = 0) -> dict:
  """The linen variables of model `index` of a group, from the newest checkpoint in `directory`.

  For using a trained model after its run (evaluation, classifying new images); shaped from the
  checkpoint's own metadata, so no model or optimizer needs to be built first, and restored onto
  this process's first device, whatever devices or processes the run had.
  """
  directory = os.path.abspath(directory)
  if not os.path.isdir(directory):
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
