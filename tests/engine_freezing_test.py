"""Frozen parameters: exact zero updates, no optimizer state, idle patterns refused."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import tiny_config, train_group

from engine import base_config, checkpoints, freezing, loop, optimizers, plan, sweep
from engine.errors import UserError


def _params():
  k = jax.random.split(jax.random.PRNGKey(0), 4)
  return {
    'Conv_0': {'kernel': jax.random.normal(k[0], (3, 3, 1, 4)), 'bias': jnp.zeros(4)},
    'Conv_1': {'kernel': jax.random.normal(k[1], (3, 3, 4, 4)), 'bias': jnp.zeros(4)},
    'Dense_0': {'kernel': jax.random.normal(k[2], (16, 3)), 'bias': jnp.zeros(3)},
  }


def _array_paths(tree):
  return [freezing.path_of(kp) for kp, _ in jax.tree_util.tree_flatten_with_path(tree)[0]]


def test_patterns_select_module_paths():
  p = _params()
  assert freezing.frozen_paths(p, ('Conv_0',)) == ['Conv_0/bias', 'Conv_0/kernel']
  assert freezing.frozen_paths(p, ('Conv_*',)) == [
    'Conv_0/bias',
    'Conv_0/kernel',
    'Conv_1/bias',
    'Conv_1/kernel',
  ]
  assert freezing.frozen_paths(p, ('Dense_0/kernel',)) == ['Dense_0/kernel']
  assert freezing.frozen_paths(p, ()) == []


def test_frozen_params_are_bit_identical_and_have_no_moments():
  params = _params()
  tx = freezing.wrap(optimizers.make({'name': 'adam', 'learning_rate': 0.1}), ('Conv_0',))
  state = tx.init(params)
  # Adam's mu and nu exist for the trained leaves only: no array anywhere for Conv_0.
  paths = _array_paths(state)
  assert not [p for p in paths if 'Conv_0' in p]
  assert sum('Conv_1/kernel' in p for p in paths) == 2 and sum('Dense_0' in p for p in paths) == 4
  p = params
  for i in range(5):
    grads = jax.tree.map(lambda x, i=i: jnp.full_like(x, 0.5 + i), p)
    updates, state = tx.update(grads, state, p)
    p = optax.apply_updates(p, updates)
  for name in ('kernel', 'bias'):
    np.testing.assert_array_equal(p['Conv_0'][name], params['Conv_0'][name])
    assert not np.array_equal(p['Conv_1'][name], params['Conv_1'][name])
  # the learning rate is still read through the wrapper
  assert optimizers.learning_rate({}, state) == pytest.approx(0.1)


def test_a_pattern_that_matches_nothing_is_an_error():
  tx = freezing.wrap(optax.sgd(0.1), ('Conv_0', 'block1*'))
  with pytest.raises(UserError, match=r"'block1\*'.*Conv_0, Conv_1, Dense_0"):
    tx.init(_params())


def test_frozen_layers_do_not_move_in_the_engine_and_survive_a_checkpoint(mnist_small, tmp_path):
  c = tiny_config()
  c.sweep = {}
  c.seeds = 2
  c.model.hidden = (16, 16)
  c.train.epochs = 1
  c.transfer = base_config.transfer_config()
  c.transfer.freeze = ('Dense_0', 'Dense_1/kernel')
  dev = loop.put_on_device(mnist_small, c.train.eval_train_size, c.train.eval_batch_size)
  [group] = sweep.groups(c)
  images = dev['train'][0]
  start = loop.start_group(group, plan.resolve(group, len(mnist_small.train_y)), images)
  before = jax.device_get(start.states.params)
  opt_paths = _array_paths(start.states.opt_state)
  assert not [p for p in opt_paths if 'Dense_0' in p or 'Dense_1/kernel' in p]
  assert [p for p in opt_paths if 'Dense_1/bias' in p]

  records = train_group(group, c, dev, str(tmp_path), progress=False)
  assert records[0]['final']['train_running_loss'] > 0
  after = checkpoints.restore_variables(str(tmp_path / 'checkpoints'), index=1)['params']
  np.testing.assert_array_equal(after['Dense_0']['kernel'], before['Dense_0']['kernel'][1])
  np.testing.assert_array_equal(after['Dense_0']['bias'], before['Dense_0']['bias'][1])
  np.testing.assert_array_equal(after['Dense_1']['kernel'], before['Dense_1']['kernel'][1])
  assert not np.array_equal(after['Dense_1']['bias'], before['Dense_1']['bias'][1])
  assert not np.array_equal(after['Dense_2']['kernel'], before['Dense_2']['kernel'][1])
