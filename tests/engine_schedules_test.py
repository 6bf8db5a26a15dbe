"""Learning-rate schedules: exact values, and per-model numbers inside one vmapped program."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from engine import optimizers, schedules

DECAYS = (0.1, 0.01, 0.001, 0.0001)


def test_time_based_decay_is_kerass_legacy_formula_exactly():
  t = np.arange(3001, dtype=np.float64)
  for d in DECAYS:
    np.testing.assert_array_equal(schedules.time_based_decay(0.01, d)(t), 0.01 / (1.0 + d * t))
    compiled = np.asarray(jax.jit(schedules.time_based_decay(0.01, d))(jnp.asarray(t, jnp.float32)))
    np.testing.assert_allclose(compiled, 0.01 / (1.0 + d * t), rtol=2.5e-7)  # float32: 1 ulp
  f = schedules.time_based_decay(0.01, 0.1)
  assert float(f(0)) == pytest.approx(0.01, rel=1e-7)  # the first update uses lr0
  assert float(f(10)) == pytest.approx(0.005, rel=1e-6)  # halved after 1 / decay updates


@pytest.mark.parametrize(
  'name,args,count,want',
  [
    ('exponential_decay', dict(decay_rate=0.5, decay_steps=10), 20, 0.25),
    ('exponential_decay', dict(decay_rate=0.5, decay_steps=10), 5, 0.5**0.5),
    ('step_decay', dict(drop=0.5, drop_every=10), 19, 0.5),
    ('step_decay', dict(drop=0.5, drop_every=10), 20, 0.25),
    ('cosine_decay', dict(decay_steps=100, alpha=0.1), 50, 0.55),
    ('cosine_decay', dict(decay_steps=100, alpha=0.1), 500, 0.1),
  ],
)
def test_other_schedules(name, args, count, want):
  factory, arg_names = schedules.get(name)
  assert set(arg_names) == set(args)
  assert float(factory(1.0, **args)(count)) == pytest.approx(want, rel=1e-6)


def _sgd_steps(config, decays, steps):
  """Per model: (rate read from the state, rate actually applied) for `steps` unit gradients."""

  def run(decay):
    tx = optimizers.make(config, decay=decay)
    params = jnp.zeros(())
    state = tx.init(params)
    out = []
    for _ in range(steps):
      read = optimizers.learning_rate(config, state)
      updates, state = optimizers.make(config).update(jnp.ones(()), state, params)
      out.append((read, -updates))
    return out

  return jax.jit(jax.vmap(run))(jnp.asarray(decays, jnp.float32))


def test_each_vmapped_model_follows_its_own_decay():
  """The update-time optimizer is built with the config's decay (0.5); the state's win."""
  config = dict(name='sgd', learning_rate=0.01, schedule='time_based_decay', decay=0.5)
  out = _sgd_steps(config, DECAYS, steps=5)
  for t, (read, applied) in enumerate(out):
    want = np.float32(0.01) / (np.float32(1) + np.asarray(DECAYS, np.float32) * np.float32(t))
    np.testing.assert_allclose(np.asarray(applied), want, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(read), want, rtol=1e-6)


def test_decay_is_a_traced_number_of_the_sweep():
  config = dict(name='sgd', learning_rate=0.01, schedule='time_based_decay', decay=0.0)
  assert optimizers.numeric_keys(config) == ('learning_rate', 'decay')


def test_constant_schedule_leaves_the_rate_alone():
  config = dict(name='adam', learning_rate=3e-3)
  tx = optimizers.make(config)
  state = tx.init(jnp.zeros(()))
  assert float(optimizers.learning_rate(config, state)) == pytest.approx(3e-3)


@pytest.mark.parametrize(
  'config,message',
  [
    (dict(name='sgd', learning_rate=0.1, schedule='linear'), 'Unknown learning-rate schedule'),
    (dict(name='sgd', learning_rate=0.1, schedule='time_based_decay'), 'needs optimizer.decay'),
    (
      dict(name='rmsprop', learning_rate=0.1, schedule='time_based_decay', decay=0.1),
      'both take decay',
    ),
  ],
)
def test_bad_schedule_configs_say_what_to_fix(config, message):
  with pytest.raises(ValueError, match=message):
    optimizers.make(config)
