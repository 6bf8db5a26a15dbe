"""Train state of one model: everything a step reads and writes, as one pytree.

Stacking the states of many models along a leading axis gives the state of a vmapped group.
"""

from typing import Any

import flax
import jax
import jax.numpy as jnp


@flax.struct.dataclass
class TrainState:
  step: jnp.ndarray
  params: Any
  batch_stats: Any
  opt_state: Any
  dropout_rate: jnp.ndarray


def create(model, tx, key, sample_x, dropout_rate) -> TrainState:
  """Initializes params (from `key`) and optimizer state for one model."""
  init_key, dropout_key = jax.random.split(key)
  variables = model.init({'params': init_key, 'dropout': dropout_key}, sample_x, train=False)
  params = variables['params']
  return TrainState(
    step=jnp.zeros((), jnp.int32),
    params=params,
    batch_stats=variables.get('batch_stats', {}),
    opt_state=tx.init(params),
    dropout_rate=jnp.asarray(dropout_rate, jnp.float32),
  )
