"""nets.conv_ops: every impl equals the lax/flax reference in values and grads."""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from nets import conv_ops

# (N, H, W, Cin, kh, kw, Cout): the project's layers (dropout CNN's image
# layer, LeNet's second conv) plus odd/even/non-square kernels and 1x1.
SHAPES = [
  (2, 28, 28, 1, 3, 3, 16),
  (2, 12, 12, 20, 5, 5, 50),
  (1, 9, 7, 3, 4, 2, 5),
  (2, 6, 6, 4, 1, 1, 3),
]


def _ref_conv(x, k, padding):
  return lax.conv_general_dilated(
    x,
    k,
    (1, 1),
    padding,
    dimension_numbers=('NHWC', 'HWIO', 'NHWC'),
    precision=lax.Precision.HIGHEST,
  )


def _normal(rng, *shape):
  return rng.standard_normal(shape).astype(np.float32)


def _data(shape, seed=0):
  """numpy data: no per-shape compile of jax.random kernels (keeps tests fast)."""
  n, h, w, cin, kh, kw, cout = shape
  rng = np.random.default_rng(seed)
  return (
    _normal(rng, n, h, w, cin),
    _normal(rng, kh, kw, cin, cout) / np.sqrt(kh * kw * cin),
    _normal(rng, cout),
  )


@jax.jit(static_argnames=('padding',))
def _all_impls(x, k, b, ct, padding):
  """Values and (dx, dk, db) for the reference and every impl, one compile."""

  def grads(f):
    y, vjp = jax.vjp(f, x, k, b)
    return y, vjp(ct)

  out = {'ref': grads(lambda x, k, b: _ref_conv(x, k, padding) + b)}
  for impl in conv_ops.CONV_IMPLS + ('auto',):
    out[impl] = grads(lambda x, k, b, impl=impl: conv_ops.conv2d(x, k, b, padding, impl))
  return out


@pytest.mark.parametrize('padding', ['SAME', 'VALID'])
@pytest.mark.parametrize('shape', SHAPES, ids=lambda s: 'x'.join(map(str, s)))
def test_conv2d_values_and_grads(padding, shape):
  x, k, b = _data(shape)
  n, h, w, _, kh, kw, cout = shape
  ho, wo = (h, w) if padding == 'SAME' else (h - kh + 1, w - kw + 1)
  # A fixed random cotangent makes every output element matter.
  ct = _normal(np.random.default_rng(1), n, ho, wo, cout)
  out = _all_impls(x, k, b, ct, padding)
  want, want_grads = out['ref']
  for impl in conv_ops.CONV_IMPLS + ('auto',):
    got, got_grads = out[impl]
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5, err_msg=impl)
    for name, g, r in zip('xkb', got_grads, want_grads):
      np.testing.assert_allclose(
        g, r, rtol=1e-4, atol=1e-4 * float(np.abs(r).max()), err_msg=f'{impl} d{name}'
      )


def _tie_free(shape, seed=0):
  """A permutation of distinct values: no window can hold two equal maxima."""
  size = int(np.prod(shape))
  perm = np.random.default_rng(seed).permutation(size).astype(np.float32)
  return jnp.asarray(perm.reshape(shape) / size - 0.5)


@pytest.mark.parametrize('shape', [(2, 28, 28, 16), (3, 14, 14, 32), (2, 7, 9, 3)])
def test_max_pool_values_and_grads(shape):
  x = _tie_free(shape)
  ref_fn = lambda x: nn.max_pool(x, (2, 2), strides=(2, 2), padding='VALID')
  ct = _normal(np.random.default_rng(2), *jax.eval_shape(ref_fn, x).shape)

  @jax.jit
  def both(x):
    out = {'ref': jax.vjp(ref_fn, x)}
    for impl in conv_ops.POOL_IMPLS + ('patches',):
      out[impl] = jax.vjp(lambda x, impl=impl: conv_ops.max_pool_2x2(x, impl), x)
    return {name: (y, vjp(ct)[0]) for name, (y, vjp) in out.items()}

  out = both(x)
  for impl in conv_ops.POOL_IMPLS + ('patches',):
    np.testing.assert_array_equal(out[impl][0], out['ref'][0], err_msg=impl)
    np.testing.assert_array_equal(out[impl][1], out['ref'][1], err_msg=impl)


def test_max_pool_ties_route_the_gradient_like_lax():
  """On a tied window every impl gives the whole gradient to lax's element (the first maximum)."""
  # windows: 2-way tie in the bottom row, 3-way tie, all equal, all-zero (after a ReLU), unique.
  rows = [[1, 1, 1, 1, 5, 5, 0, 0, 3, 3], [2, 2, 0, 1, 5, 5, 0, 0, 1, 7]]
  x = np.array(rows, np.float32).reshape(1, 2, 10, 1)
  ct = np.arange(1, 6, dtype=np.float32).reshape(1, 1, 5, 1)

  @jax.jit
  def grads(x):
    out = {}
    for impl in conv_ops.POOL_IMPLS + ('patches',):
      _, vjp = jax.vjp(lambda x, impl=impl: conv_ops.max_pool_2x2(jax.nn.relu(x), impl), x)
      out[impl] = vjp(ct)[0]
    return out

  out = grads(x)
  for impl in conv_ops.POOL_IMPLS + ('patches',):
    np.testing.assert_array_equal(out[impl], out['lax'], err_msg=impl)
  win = lambda g: [np.ravel(g[0, :, 2 * i : 2 * i + 2, 0]).tolist() for i in range(5)]
  assert win(out['reshape']) == [
    [0, 0, 1, 0],
    [2, 0, 0, 0],
    [3, 0, 0, 0],
    [0, 0, 0, 0],
    [0, 0, 0, 5],
  ]


def test_max_pool_one_pass_backward_equals_jaxs_transpose(monkeypatch):
  """The custom VJP (one elementwise pass) and jax's transpose of the selects (four pads) agree,
  on ties (ReLU zeros, equal values) and on odd sizes (the cropped last row and column)."""
  rng = np.random.default_rng(3)
  x = np.maximum(np.round(rng.standard_normal((2, 7, 9, 3)), 1), 0).astype(np.float32)  # ties
  ct = _normal(np.random.default_rng(4), 2, 3, 4, 3)

  def grad(mode):
    monkeypatch.setattr(conv_ops, 'POOL_BACKWARD', mode)
    y, vjp = jax.vjp(lambda x: conv_ops.max_pool_2x2(x, 'reshape'), x)
    return y, vjp(ct)[0]

  (y_mask, g_mask), (y_pads, g_pads) = grad('mask'), grad('transpose')
  np.testing.assert_array_equal(y_mask, y_pads)
  np.testing.assert_array_equal(g_mask, grad('stack')[1])
  np.testing.assert_array_equal(g_mask, g_pads)
  assert np.count_nonzero(g_mask) == np.count_nonzero(ct)  # one element per window, none lost


def _params_like(module, x, seed=0):
  """Random params with the module's tree (eval_shape: no slow init compile)."""
  shapes = jax.eval_shape(module.init, jax.random.PRNGKey(0), x)
  rng = np.random.default_rng(seed)
  return jax.tree.map(lambda s: _normal(rng, *s.shape) * 0.3, shapes)


def test_conv_module_init_matches_flax():
  """Same names, shapes, dtypes and initial values as flax.linen.Conv."""
  x = _normal(np.random.default_rng(0), 2, 10, 10, 3)
  key = jax.random.PRNGKey(1)

  @jax.jit
  def both(key):
    return (nn.Conv(8, (3, 3)).init(key, x), conv_ops.Conv(8, (3, 3), impl='patches').init(key, x))

  ref, ours = both(key)
  assert jax.tree.structure(ref) == jax.tree.structure(ours)
  for a, b in zip(jax.tree.leaves(ref), jax.tree.leaves(ours)):
    assert a.dtype == b.dtype == jnp.float32
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize('padding', ['SAME', 'VALID'])
def test_conv_module_params_interchangeable_with_flax(padding):
  x = _normal(np.random.default_rng(0), 2, 10, 10, 3)
  ref = nn.Conv(8, (3, 3), padding=padding)
  params = _params_like(ref, x)

  @jax.jit
  def outs(params):
    return [ref.apply(params, x)] + [
      conv_ops.Conv(8, (3, 3), padding=padding, impl=i).apply(params, x)
      for i in conv_ops.CONV_IMPLS
    ]

  want, *got = outs(params)
  for impl, y in zip(conv_ops.CONV_IMPLS, got):
    np.testing.assert_allclose(y, want, rtol=2e-5, atol=2e-5, err_msg=impl)


def test_conv_module_bf16_compute_f32_params():
  x = _normal(np.random.default_rng(0), 2, 12, 12, 4)
  params = _params_like(nn.Conv(8, (3, 3)), x)

  @jax.jit
  def run(params):
    want = nn.Conv(8, (3, 3)).apply(params, x)
    out = {}
    for impl in conv_ops.CONV_IMPLS:
      m = conv_ops.Conv(8, (3, 3), impl=impl, dtype=jnp.bfloat16)
      loss = lambda p, m=m: m.apply(p, x).astype(jnp.float32).sum()
      out[impl] = (m.apply(params, x), jax.grad(loss)(params))
    return want, out

  want, out = run(params)
  for y, g in out.values():
    assert y.dtype == jnp.bfloat16
    np.testing.assert_allclose(np.asarray(y, np.float32), want, rtol=0.05, atol=0.05)
    assert all(v.dtype == jnp.float32 for v in jax.tree.leaves(g))


def test_default_impl():
  assert conv_ops.default_impl('conv', 'gpu') == 'lax'
  assert conv_ops.default_impl('pool', 'tpu') == 'lax'
  assert conv_ops.default_impl('conv', 'cpu') == 'auto'
  assert conv_ops.default_impl('pool', 'cpu') in conv_ops.POOL_IMPLS
  assert conv_ops.default_impl('conv', 'cpu', cin=1) == 'shifts'
  assert conv_ops.default_impl('conv', 'cpu', cin=16) == 'lax'
  assert conv_ops.default_impl('conv', 'cpu', cin=1, taps=25) == 'lax'
  assert conv_ops.default_impl() in conv_ops.CONV_IMPLS + ('auto',)
  with pytest.raises(ValueError):
    conv_ops.default_impl('dense')


def test_bad_impl_names():
  x, k, b = _data(SHAPES[0])
  with pytest.raises(ValueError):
    jax.eval_shape(lambda: conv_ops.conv2d(x, k, b, impl='im2col'))
  with pytest.raises(ValueError):
    jax.eval_shape(lambda: conv_ops.max_pool_2x2(x, impl='avg'))


def _gradients_on_real_digits(name, impls, x, y, **fields):
  """Every parameter's gradient of the mean cross-entropy, per impl, from one compile."""
  import optax

  import nets

  models = {impl: nets.build(name, conv_impl=impl, pool_impl=impl, **fields) for impl in impls}
  params = jax.eval_shape(
    lambda: models['lax'].init({'params': jax.random.PRNGKey(0)}, x[:1], train=False)
  )['params']
  rng = np.random.default_rng(0)
  params = jax.tree.map(lambda s: _normal(rng, *s.shape) * 0.1, params)

  @jax.jit
  def all_grads(params):
    def loss(p, model):
      logits = model.apply({'params': p}, x, train=False)
      return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    return {impl: jax.grad(loss)(params, m) for impl, m in models.items()}

  return all_grads(params)


@pytest.mark.parametrize(
  'name, fields, impls',
  [
    (
      'cnn',
      dict(
        conv_features=(16, 32),
        dense=(128,),
        dropout_after_conv=True,
        dropout_after_dense=False,
      ),
      ('lax', 'auto', 'patches'),
    ),
    ('caffe_lenet', {}, ('lax', 'auto')),
  ],
)
def test_the_cpu_fast_cnn_gradient_equals_lax_on_real_digits(mnist_small, name, fields, impls):
  """Real digits tie in the max-pools (saturated strokes); random data would not catch a split."""
  x, y = jnp.asarray(mnist_small.train_x[:32]), jnp.asarray(mnist_small.train_y[:32])
  out = _gradients_on_real_digits(name, impls, x, y, **fields)
  for impl in impls[1:]:
    for path, g in jax.tree_util.tree_leaves_with_path(out[impl]):
      ref = np.asarray(functools.reduce(lambda t, k: t[k.key], path, out['lax']), dtype=np.float32)
      err = np.max(np.abs(np.asarray(g) - ref)) / np.max(np.abs(ref))
      assert err < 1e-5, (impl, jax.tree_util.keystr(path), err)
