"""The MLP and CNN modules: shapes, parameter counts, batch norm, names."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import nets
from experiments import dropout_sweep


def _count(tree):
  return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(tree))


def test_dropout_sweep_cnn_has_the_documented_parameter_count():
  cfg = dropout_sweep.get_config().model
  model = nets.build(
    cfg.name, **{k: v for k, v in cfg.items() if k not in ('name', 'dropout_rate')}
  )
  variables = jax.eval_shape(
    lambda: model.init(jax.random.PRNGKey(0), jnp.zeros((1, 28, 28, 1)), train=False)
  )
  n = _count(variables['params'])
  assert n == 206_922
  assert n <= 1_000_000
  assert '206,922 parameters' in dropout_sweep.__doc__


@pytest.mark.parametrize('impl', ['lax', 'patches'])
def test_cnn_forward_shape_and_impls_agree(impl):
  x = jax.random.uniform(jax.random.PRNGKey(0), (3, 28, 28, 1))
  ref = nets.build('cnn', conv_impl='lax', pool_impl='lax')
  model = nets.build('cnn', conv_impl=impl, pool_impl='reshape' if impl == 'patches' else 'lax')
  variables = ref.init(jax.random.PRNGKey(1), x, train=False)
  out = model.apply(variables, x, train=False)
  assert out.shape == (3, 10)
  np.testing.assert_allclose(out, ref.apply(variables, x, train=False), atol=1e-5)


def test_mlp_with_batch_norm_has_running_statistics_and_no_dense_bias():
  model = nets.build('mlp', hidden=[20, 30], batch_norm=True)
  x = jnp.ones((8, 5))
  variables = model.init(jax.random.PRNGKey(0), x, train=False)
  assert 'batch_stats' in variables
  assert 'bias' not in variables['params']['Dense_0']
  out, updates = model.apply(
    variables, x * 2, train=True, mutable=['batch_stats'], rngs={'dropout': jax.random.PRNGKey(1)}
  )
  assert out.shape == (8, 10)
  before = variables['batch_stats']['BatchNorm_0']['mean']
  assert not np.allclose(updates['batch_stats']['BatchNorm_0']['mean'], before)


def test_unknown_names_are_refused_with_the_known_ones():
  with pytest.raises(ValueError, match=r'known: .*cnn, .*mlp'):
    nets.build('resnet')
  model = nets.build('mlp', activation='relux')
  with pytest.raises(ValueError, match='Unknown activation'):
    model.init(jax.random.PRNGKey(0), jnp.ones((1, 4)), train=False)


def test_initializers_by_name():
  from nets import initializers

  key = jax.random.PRNGKey(0)
  assert np.all(initializers.get('zeros')(key, (3, 3)) == 0)
  assert np.all(initializers.get('ones', 2.0)(key, (3, 3)) == 2.0)
  w = initializers.get('normal', 0.01)(key, (500, 500))
  assert abs(float(w.std()) - 0.01) < 0.001
