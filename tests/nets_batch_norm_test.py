"""The written-out batch norm agrees with flax.linen.BatchNorm, running averages included."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nets.batch_norm import batch_norm, document_forward


def _variables(features, key):
  k1, k2, k3, k4 = jax.random.split(key, 4)
  return {
    'params': {
      'scale': 1 + 0.3 * jax.random.normal(k1, (features,)),
      'bias': jax.random.normal(k2, (features,)),
    },
    'batch_stats': {
      'mean': jax.random.normal(k3, (features,)),
      'var': jax.random.uniform(k4, (features,), minval=0.5, maxval=2.0),
    },
  }


@pytest.mark.parametrize('shape', [(32, 6), (4, 5, 5, 3)])
def test_train_and_eval_mode_match_flax_over_several_steps(shape):
  layer = nn.BatchNorm(use_running_average=False, momentum=0.9)
  variables = _variables(shape[-1], jax.random.PRNGKey(0))
  gamma, beta = variables['params']['scale'], variables['params']['bias']
  mean, var = variables['batch_stats']['mean'], variables['batch_stats']['var']
  for step in range(3):
    x = 3.0 + 2.0 * jax.random.normal(jax.random.PRNGKey(step + 1), shape)
    y_flax, updates = layer.apply(variables, x, mutable=['batch_stats'])
    y, (mean, var) = batch_norm(x, gamma, beta, mean, var, train=True, momentum=0.9)
    np.testing.assert_allclose(y, y_flax, atol=2e-5)
    np.testing.assert_allclose(mean, updates['batch_stats']['mean'], atol=1e-5)
    np.testing.assert_allclose(var, updates['batch_stats']['var'], rtol=1e-5)
    variables = {**variables, **updates}
  # The running averages moved: evaluation mode now uses them, not the batch's statistics.
  assert not np.allclose(mean, _variables(shape[-1], jax.random.PRNGKey(0))['batch_stats']['mean'])
  x = jax.random.normal(jax.random.PRNGKey(9), shape)
  y_eval = nn.BatchNorm(use_running_average=True).apply(variables, x)
  y, stats = batch_norm(x, gamma, beta, mean, var, train=False)
  np.testing.assert_allclose(y, y_eval, atol=2e-5)
  assert stats[0] is mean and stats[1] is var
  assert abs(float(y.mean())) > 0.1  # not re-normalized by the batch


def test_a_batch_of_one_maps_every_input_to_beta():
  beta = jnp.arange(4.0)
  for seed in range(3):
    x = 100 * jax.random.normal(jax.random.PRNGKey(seed), (1, 4))
    y, _ = batch_norm(x, jnp.full((4,), 7.0), beta, jnp.zeros(4), jnp.ones(4), train=True)
    np.testing.assert_array_equal(y, beta[None])
    y_flax = nn.BatchNorm(use_running_average=False).apply(
      {
        'params': {'scale': jnp.full((4,), 7.0), 'bias': beta},
        'batch_stats': {'mean': jnp.zeros(4), 'var': jnp.ones(4)},
      },
      x,
      mutable=['batch_stats'],
    )[0]
    np.testing.assert_array_equal(y_flax, beta[None])


def test_the_exam_s_code_runs_only_with_z_for_x_and_then_is_batch_norm():
  rng = np.random.default_rng(0)
  z = 3.0 + 2.0 * rng.standard_normal((32, 6))
  gamma, beta = 1 + 0.3 * rng.standard_normal(6), rng.standard_normal(6)
  cache = {'mu': np.zeros(6), 'var': np.ones(6)}
  with pytest.raises(NameError, match="'X' is not defined"):
    document_forward('as written')(z, gamma, beta, 1e-5, dict(cache), 0.99, 'train')
  fixed = document_forward('corrected')
  c = dict(cache)
  y = fixed(z, gamma, beta, 1e-5, c, 0.99, 'train')
  y_ref, (mean, var) = batch_norm(
    jnp.asarray(z, jnp.float32), gamma, beta, cache['mu'], cache['var'], train=True
  )
  np.testing.assert_allclose(y, y_ref, atol=1e-4)
  np.testing.assert_allclose(c['mu'], mean, rtol=1e-5)
  np.testing.assert_allclose(c['var'], var, rtol=1e-4)
  flat = z.copy()
  flat[:, 0] = 1.0
  with np.errstate(all='ignore'):
    assert np.isfinite(fixed(flat, gamma, beta, 1e-5, dict(cache), 0.99, 'train')).all()
    assert not np.isfinite(fixed(flat, gamma, beta, 0.0, dict(cache), 0.99, 'train')).all()
    printed = document_forward('printed formula')(
      flat, gamma, beta, 1e-5, dict(cache), 0.99, 'train'
    )
  assert not np.isfinite(printed[:, 0]).any() and np.isfinite(printed[:, 1:]).all()
