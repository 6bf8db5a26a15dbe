"""The batch-norm forward pass written out, as in the exam's problem (Ioffe & Szegedy 2015, Alg. 1).

`flax.linen.BatchNorm` is what the nets use; this function says the same thing in five lines, so
a test can hold the two against each other and an experiment can show what a layer computes
(at batch size 1, x - mean is exactly 0 and every output is beta). Below it, the exam's own
numpy code as its text prints it, runnable as written and in the corrected versions the
batch-norm finding holds against flax.
"""

import re

import jax.numpy as jnp
import numpy as np


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


# The exam's own forward pass (document 003, problem 11, Figure 7), as the document prints it: it
# normalizes `X`, which is not one of its arguments. The converted text splits the cell in two and
# loses the indentation of the second part; it is restored here the only way the code can run:
# `var = ...` inside the `elif`, the last three lines in the function body. 4-space indented, as
# printed.
DOCUMENT_CODE = """\
def forward_batchnorm(Z, gamma, beta, eps, cache_dict, beta_avg, mode):
    out = None
    if mode == 'train':
        mu = np.mean(X, axis=0)
        var = np.var(X, axis=0)
        cache_dict['mu'] = beta_avg * cache_dict['mu'] + (1 - beta_avg) * mu
        cache_dict['var'] = beta_avg * cache_dict['var'] + (1 - beta_avg) * var
    elif mode == 'test':
        mu = cache_dict['mu']
        var = cache_dict['var']
    z_norm = (X - mu) / np.sqrt(var + eps)
    out = gamma * z_norm + beta
    return out
"""

# The versions of the exam's code that the batch-norm finding runs side by side.
DOCUMENT_VERSIONS = {
  'as written': 'the code as printed (normalizes the undefined X)',
  'corrected': 'the same code normalizing its argument Z',
  'printed formula': "the corrected code with the question's formula (Z - mu) / sigma + eps, "
  'epsilon outside the square root',
}


def document_source(version: str) -> str:
  """The source of one version of the exam's `forward_batchnorm` (see DOCUMENT_VERSIONS)."""
  if version == 'as written':
    return DOCUMENT_CODE
  corrected = re.sub(r'\bX\b', 'Z', DOCUMENT_CODE)
  if version == 'corrected':
    return corrected
  if version == 'printed formula':
    old = '(Z - mu) / np.sqrt(var + eps)'
    if old not in corrected:
      raise ValueError(f'the exam code no longer contains {old!r}; update the substitution')
    return corrected.replace(old, '(Z - mu) / np.sqrt(var) + eps')
  raise ValueError(f'unknown version {version!r}; known: {", ".join(DOCUMENT_VERSIONS)}')


def document_forward(version: str):
  """The exam's `forward_batchnorm(Z, gamma, beta, eps, cache_dict, beta_avg, mode)` in `version`,
  run from its text in a namespace holding only numpy as `np`, exactly as a notebook would."""
  namespace = {'np': np}
  exec(compile(document_source(version), f'<003 P11 {version}>', 'exec'), namespace)
  return namespace['forward_batchnorm']
