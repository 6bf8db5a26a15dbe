"""The architecture zoo: exact parameter counts from the real modules, and what each layer does."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import nets
from nets import lenet
from nets.normalization import LocalResponseNorm
from nets.pooling import Pool


def _params(name, shape, **fields):
  model = nets.build(name, **fields)
  variables = jax.eval_shape(
    lambda: model.init(jax.random.PRNGKey(0), jnp.zeros((1, *shape)), train=False)
  )
  return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(variables['params']))


@pytest.mark.parametrize(
  'name,shape,fields,expected',
  [
    ('vgg', (224, 224, 3), dict(configuration='A'), 132_863_336),
    ('vgg', (224, 224, 3), dict(configuration='A-LRN'), 132_863_336),
    ('vgg', (224, 224, 3), dict(configuration='B'), 133_047_848),
    ('vgg', (224, 224, 3), dict(configuration='C'), 133_638_952),
    ('vgg', (224, 224, 3), dict(configuration='D'), 138_357_544),
    ('vgg', (224, 224, 3), dict(configuration='D', num_classes=2), 134_268_738),
    ('vgg', (224, 224, 3), dict(configuration='E'), 143_667_240),
    ('alexnet', (227, 227, 3), dict(), 62_378_344),
    ('alexnet', (227, 227, 3), dict(towers=2), 60_965_224),
    ('googlenet', (224, 224, 3), dict(), 6_998_552),
    ('googlenet', (224, 224, 3), dict(aux_heads=True), 13_378_280),
    ('resnet18', (224, 224, 3), dict(), 11_689_512),
    ('resnet18', (32, 32, 3), dict(stem='cifar', num_classes=10), 11_173_962),
    ('lenet5', (28, 28, 1), dict(), 60_850),
    ('caffe_lenet', (28, 28, 1), dict(), 431_080),
  ],
)
def test_parameter_counts(name, shape, fields, expected):
  assert _params(name, shape, **fields) == expected


def test_lenet5_c3_output_maps_see_only_their_table_inputs():
  conv = lenet.PartialConv(lenet.C3_TABLE, impl='lax')
  x = jax.random.normal(jax.random.PRNGKey(0), (1, 14, 14, 6))
  variables = conv.init(jax.random.PRNGKey(1), x)
  assert variables['params']['kernel'].shape == (5, 5, 60)
  per_map = lambda x: conv.apply(variables, x).sum(axis=(0, 1, 2))
  jac = np.asarray(jax.jit(jax.jacrev(per_map))(x))  # (16 outputs, 1, 14, 14, 6 inputs)
  for j, inputs in enumerate(lenet.C3_TABLE):
    touched = np.flatnonzero(np.abs(jac[j]).sum(axis=(0, 1, 2)) > 0)
    assert tuple(touched) == tuple(sorted(inputs)), j


def test_lenet5_pads_mnist_to_32_and_trains_its_subsampling():
  model = nets.build('lenet5')
  x = jax.random.uniform(jax.random.PRNGKey(0), (2, 28, 28, 1))
  variables = jax.jit(lambda x: model.init(jax.random.PRNGKey(1), x, train=False))(x)
  out, state = jax.jit(lambda v, x: model.apply(v, x, train=False, mutable=['intermediates']))(
    variables, x
  )
  assert out.shape == (2, 10)
  assert state['intermediates']['conv1'][0].shape == (2, 28, 28, 6)  # 32 - 5 + 1
  assert state['intermediates']['pool1'][0].shape == (2, 14, 14, 6)
  grads = jax.jit(jax.grad(lambda p: model.apply({'params': p}, x, train=False).sum()))(
    variables['params']
  )
  assert float(jnp.abs(grads['S2']['scale']).sum()) > 0


def test_caffe_lenet_sows_its_feature_maps():
  model = nets.build('caffe_lenet')
  _, state = jax.eval_shape(
    lambda x: model.init_with_output(
      jax.random.PRNGKey(0), x, train=False, mutable=['params', 'intermediates']
    ),
    jnp.ones((1, 28, 28, 1)),
  )
  shapes = {k: v[0].shape for k, v in state['intermediates'].items()}
  assert shapes == {
    'conv1': (1, 24, 24, 20),
    'pool1': (1, 12, 12, 20),
    'conv2': (1, 8, 8, 50),
    'pool2': (1, 4, 4, 50),
  }


def test_googlenet_aux_heads_are_sown_and_naive_modules_deepen():
  from nets.inception import Inception

  x = jnp.zeros((1, 32, 32, 256))
  naive = Inception(128, 64, 192, 64, 96, 64, reduced=False)
  reduced = Inception(128, 64, 192, 64, 96, 64)
  assert (
    jax.eval_shape(lambda: naive.init_with_output(jax.random.PRNGKey(0), x)[0]).shape[-1] == 672
  )
  assert (
    jax.eval_shape(lambda: reduced.init_with_output(jax.random.PRNGKey(0), x)[0]).shape[-1] == 480
  )
  model = nets.build('googlenet', num_classes=7, aux_heads=True)
  out, state = jax.eval_shape(
    lambda: model.init_with_output(
      jax.random.PRNGKey(0),
      jnp.zeros((1, 224, 224, 3)),
      train=False,
      mutable=['params', 'intermediates'],
    )
  )
  assert out.shape == (1, 7)
  assert [a.shape for a in state['intermediates']['aux_logits']] == [(1, 7), (1, 7)]


def test_pool_and_lrn_values():
  x = jnp.arange(16.0).reshape(1, 4, 4, 1)
  assert np.asarray(Pool('max', (2, 2)).apply({}, x))[0, :, :, 0].tolist() == [[5, 7], [13, 15]]
  assert np.asarray(Pool('avg', (2, 2)).apply({}, x))[0, :, :, 0].tolist() == [
    [2.5, 4.5],
    [10.5, 12.5],
  ]
  assert float(Pool('avg', None).apply({}, x).squeeze()) == 7.5
  y = jnp.ones((1, 1, 1, 7))
  out = np.asarray(LocalResponseNorm().apply({}, y)).ravel()
  # edges have 3 neighbours in the window of 5, the middle 5
  np.testing.assert_allclose(
    out, [(2 + 1e-4 * n) ** -0.75 for n in (3, 4, 5, 5, 5, 4, 3)], rtol=1e-6
  )


def test_unknown_configuration_and_stem_are_refused():
  with pytest.raises(ValueError, match='Unknown VGG configuration'):
    _params('vgg', (32, 32, 3), configuration='F')
  with pytest.raises(ValueError, match='stem'):
    _params('resnet18', (32, 32, 3), stem='mnist')
