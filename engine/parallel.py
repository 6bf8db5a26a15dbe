"""How a group's models and batches are laid over devices: a ('model', 'data') mesh.

Sweep parallel lays the vmapped model axis across devices: each device trains its own slice of
the group's models and nothing crosses devices but the metrics. Data parallel splits every batch
across devices, with each model's parameters replicated; XLA all-reduces the gradients (and a
batch norm's batch statistics), so a model sees the same global batch as on one device. A mesh
of k x d devices does both: k slices of the models, each trained on d devices.

The whole dataset is on every device (the findings' datasets are small) and each device gathers
only its own rows of each batch, so batches, and results, are those of one device whatever the
layout. The model axis is padded to a multiple of k with copies of the last model, whose results
are dropped; checkpoints hold the real models only, so a run resumes on any layout.
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from engine.errors import UserError

MODES = ('auto', 'sweep', 'data')


def default_config() -> ml_collections.ConfigDict:
  """`config.parallel`: how to use the devices. It changes where things run, not the results."""
  return ml_collections.ConfigDict(
    dict(
      mode='auto',  # sweep: models across devices; data: each batch across devices; auto: both
      devices=0,  # how many of the devices to use; 0: all (several processes: all)
    )
  )


def mesh_shape(mode: str, devices: int, models: int, batch_size: int) -> tuple[int, int]:
  """(model shards k, data shards d) with k * d == `devices`; UserError if there is none.

  `auto` prefers splitting models (no communication) and splits each batch over the devices
  left: the largest k <= `models` that divides `devices` and leaves a d that divides the batch.
  """
  if mode not in MODES:
    raise UserError(
      f'--config.parallel.mode={mode!r} is not a layout; pick one of '
      f'{", ".join(MODES)} (auto: models across devices first, then each batch).'
    )
  if mode == 'sweep':
    return devices, 1
  if mode == 'data':
    if batch_size % devices:
      raise UserError(
        f'Data parallel splits each batch of {batch_size} over {devices} devices, which does '
        f'not divide it. Pick a --config.train.batch_size that is a multiple of {devices}, use '
        f'fewer devices (--config.parallel.devices), or --config.parallel.mode=sweep or auto.'
      )
    return 1, devices
  for k in range(min(max(models, 1), devices), 0, -1):
    if devices % k == 0 and batch_size % (devices // k) == 0:
      return k, devices // k
  return devices, 1  # no data split fits the batch: every device trains models of its own


def padded(models: int, model_shards: int) -> int:
  return -(-models // model_shards) * model_shards


@dataclasses.dataclass(frozen=True)
class Layout:
  """The mesh of one group's program and the group's real and padded model counts."""

  mesh: Mesh
  models: int

  @property
  def model_shards(self) -> int:
    return self.mesh.shape['model']

  @property
  def data_shards(self) -> int:
    return self.mesh.shape['data']

  @property
  def padded(self) -> int:
    return padded(self.models, self.model_shards)

  def sharding(self, *spec) -> NamedSharding:
    """`NamedSharding(mesh, P(*spec))`: () replicated, ('model',) split along the model axis."""
    return NamedSharding(self.mesh, P(*spec))

  def pad_rows(self, array: np.ndarray) -> np.ndarray:
    """A host array over the real models, padded along axis 0 with copies of the last row."""
    extra = self.padded - len(array)
    return np.concatenate([array, np.repeat(array[-1:], extra, axis=0)]) if extra else array

  def put(self, tree):
    """Host arrays over the real models onto the mesh, padded and split along the model axis."""
    return jax.device_put(jax.tree.map(self.pad_rows, tree), self.sharding('model'))

  def fetch(self, tree):
    """The real models' rows of model-split arrays, as host numpy arrays on every process."""
    return jax.device_get(_trim(self.mesh, self.models)(tree))

  def trim(self, tree):
    """Model-split arrays cut to the real models, replicated: what checkpoints hold."""
    return _trim(self.mesh, self.models)(tree)

  def spread(self, tree):
    """The inverse of `trim`: replicated arrays over the real models, padded and split."""
    return _spread(self.mesh, self.models, self.padded)(tree)

  def describe(self) -> str:
    return (
      f'{self.models} models on {self.mesh.size} device(s): {self.model_shards} model '
      f'shard(s) x {self.data_shards} data shard(s)'
    )


@functools.lru_cache(maxsize=32)
def _trim(mesh, models):
  return jax.jit(
    lambda t: jax.tree.map(lambda x: x[:models], t), out_shardings=NamedSharding(mesh, P())
  )


@functools.lru_cache(maxsize=32)
def _spread(mesh, models, padded_models):
  def pad(x):
    return jnp.concatenate([x, jnp.repeat(x[-1:], padded_models - models, axis=0)])

  return jax.jit(
    lambda t: jax.tree.map(pad, t) if padded_models > models else t,
    out_shardings=NamedSharding(mesh, P('model')),
  )


def devices(config) -> list:
  """The devices `config.parallel` asks for, in `jax.devices()` order; UserError if unavailable."""
  want = _config(config).devices
  found = jax.devices()
  if want < 0 or want > len(found):
    raise UserError(
      f'--config.parallel.devices={want} asks for more devices than the '
      f'{len(found)} JAX sees ({found[0].platform}); pass a number from 1 to '
      f'{len(found)}, or 0 for all.'
    )
  if want and want != len(found) and jax.process_count() > 1:
    raise UserError(
      f'--config.parallel.devices={want}: a job of {jax.process_count()} processes '
      f'uses all {len(found)} devices; leave it at 0.'
    )
  return found[:want] if want else found


def _mesh(devs, k, d):
  return jax.make_mesh(
    (k, d), ('model', 'data'), devices=devs, axis_types=(jax.sharding.AxisType.Auto,) * 2
  )


def one_device_mesh() -> Mesh:
  """This process's first device alone: a program on it is the plain one-device program."""
  return _mesh(jax.local_devices()[:1], 1, 1)


def layout(config, models: int) -> Layout:
  """The layout of a group of `models` models under `config.parallel` and `config.train`."""
  devs = devices(config)
  k, d = mesh_shape(_config(config).mode, len(devs), models, config.train.batch_size)
  return Layout(_mesh(devs, k, d), models)


def _config(config):
  return config.get('parallel') or default_config()
