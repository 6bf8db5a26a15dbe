"""The batch-norm forward pass written out, as in the exam's problem (Ioffe & Szegedy 2015, Alg. 1).

`flax.linen.BatchNorm` is what the nets use; this function says the same thing in five lines, so
a test can hold the two against each other and an experiment can show what a layer computes
(at batch size 1, x - mean is exactly 0 and every output is beta).
"""

import jax.numpy as jnp


def batch_norm(
  x,
  gamma,
  beta,
  running_mean,
  running_var,
  *,
  train: bool,
  momentum: float = 0.99,
  epsilon: float = 1e-5,
):
  """Returns (y, (running_mean, running_var)) for features on the last axis of `x`.

  Training mode normalizes with the batch's mean and (biased) variance over every other axis
  and moves the running averages toward them by `1 - momentum`; evaluation mode normalizes with
  the running averages and leaves them as they are. Defaults are flax's.
  """
  if not train:
    return gamma * (x - running_mean) / jnp.sqrt(running_var + epsilon) + beta, (
      running_mean,
      running_var,
    )
  axes = tuple(range(x.ndim - 1))
  mean = x.mean(axes)
  var = jnp.square(x - mean).mean(axes)
  y = gamma * (x - mean) / jnp.sqrt(var + epsilon) + beta
  return y, (
    momentum * running_mean + (1 - momentum) * mean,
    momentum * running_var + (1 - momentum) * var,
  )
