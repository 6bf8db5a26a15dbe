"""The pure train and eval steps."""

import jax
import jax.numpy as jnp
import numpy as np

import nets
from engine import optimizers, steps
from engine import state as state_lib


def test_train_step_lowers_the_loss_on_a_small_batch(mnist_small):
  model = nets.build('cnn', conv_features=(8,), dense=(32,))
  tx = optimizers.make({'name': 'adam', 'learning_rate': 3e-3})
  x, y = jnp.asarray(mnist_small.train_x[:64]), jnp.asarray(mnist_small.train_y[:64])
  state = state_lib.create(model, tx, jax.random.PRNGKey(0), x[:1], 0.0)
  train_step = jax.jit(steps.make_train_step(model, tx))
  losses = []
  for i in range(30):
    state, metrics = train_step(state, (x, y), jax.random.PRNGKey(i))
    losses.append(float(metrics['loss_sum'] / metrics['count']))
  assert int(state.step) == 30
  assert losses[-1] < 0.3 * losses[0]
  ev = steps.make_eval_step(model)(state, (x, y, jnp.ones(64, bool)))
  assert ev['count'] == 64 and ev['correct'] >= 60


def test_eval_step_ignores_masked_rows(mnist_small):
  model = nets.build('mlp', hidden=(8,))
  tx = optimizers.make({'name': 'sgd', 'learning_rate': 0.1})
  x, y = jnp.asarray(mnist_small.test_x[:10]), jnp.asarray(mnist_small.test_y[:10])
  state = state_lib.create(model, tx, jax.random.PRNGKey(0), x[:1], 0.0)
  ev = steps.make_eval_step(model)
  full = ev(state, (x[:6], y[:6], jnp.ones(6, bool)))
  masked = ev(state, (x, y, jnp.arange(10) < 6))
  np.testing.assert_allclose(masked['loss_sum'], full['loss_sum'], rtol=1e-6)
  assert masked['count'] == 6 and masked['correct'] == full['correct']


def test_learning_rate_lives_in_the_optimizer_state():
  tx = optimizers.make({'name': 'adam', 'learning_rate': 1e-3}, learning_rate=jnp.float32(0.5))
  opt_state = tx.init({'w': jnp.zeros(3)})
  assert float(opt_state.hyperparams['learning_rate']) == 0.5


def test_a_step_without_dropout_equals_one_at_rate_zero_and_draws_no_mask(mnist_small):
  model = nets.build('mlp', hidden=(16,))
  tx = optimizers.make({'name': 'adam', 'learning_rate': 1e-3})
  x, y = jnp.asarray(mnist_small.train_x[:32]), jnp.asarray(mnist_small.train_y[:32])
  state = state_lib.create(model, tx, jax.random.PRNGKey(0), x[:1], 0.0)
  with_masks = steps.make_train_step(model, tx, dropout=True)
  without = steps.make_train_step(model, tx, dropout=False)
  a, ma = jax.jit(with_masks)(state, (x, y), jax.random.PRNGKey(1))
  b, mb = jax.jit(without)(state, (x, y), jax.random.PRNGKey(1))
  jax.tree.map(np.testing.assert_array_equal, a.params, b.params)
  assert ma['loss_sum'] == mb['loss_sum']
  count_rng = lambda f: str(jax.make_jaxpr(f)(state, (x, y), jax.random.PRNGKey(1))).count(
    'random_bits'
  )
  assert count_rng(with_masks) > 0 and count_rng(without) == 0
