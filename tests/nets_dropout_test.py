"""The runtime-rate dropout: identity at 0, inverted scaling, kept fraction, eval determinism."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nets.dropout import Dropout


def _apply(x, rate, deterministic=False, seed=0):
  return Dropout().apply(
    {}, x, rate, deterministic=deterministic, rngs={'dropout': jax.random.PRNGKey(seed)}
  )


def test_rate_zero_is_identity():
  x = jax.random.normal(jax.random.PRNGKey(1), (64, 32))
  np.testing.assert_array_equal(_apply(x, 0.0), x)


@pytest.mark.parametrize('rate', [0.1, 0.5, 0.9])
def test_kept_fraction_and_inverted_scaling(rate):
  x = jnp.ones((200, 500))
  y = np.asarray(_apply(x, rate))
  kept = y != 0
  assert abs(kept.mean() - (1 - rate)) < 0.01
  np.testing.assert_allclose(y[kept], 1.0 / (1.0 - rate), rtol=1e-6)
  assert abs(y.mean() - 1.0) < 0.03  # inverted dropout keeps the expectation


def test_deterministic_at_eval_and_seeded_in_training():
  x = jax.random.normal(jax.random.PRNGKey(2), (16, 16))
  np.testing.assert_array_equal(_apply(x, 0.7, deterministic=True), x)
  np.testing.assert_array_equal(_apply(x, 0.5, seed=3), _apply(x, 0.5, seed=3))
  assert not np.array_equal(_apply(x, 0.5, seed=3), _apply(x, 0.5, seed=4))


def test_rate_is_a_runtime_value_under_jit_and_vmap():
  x = jnp.ones((4000,))
  fn = jax.jit(jax.vmap(lambda r: _apply(x, r), in_axes=0))
  rates = jnp.array([0.0, 0.25, 0.75])
  out = np.asarray(fn(rates))
  kept = (out != 0).mean(axis=1)
  np.testing.assert_allclose(kept, 1 - np.asarray(rates), atol=0.03)
  assert fn._cache_size() == 1  # one program for every rate
