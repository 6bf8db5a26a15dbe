"""The exact best-line ceiling and the dead-unit measure shared by the 2-D findings."""

import jax
import jax.numpy as jnp
import numpy as np

import nets
from engine import planar


def _brute_force(x, y, angles=20000):
  best = max(y.mean(), 1 - y.mean())
  for a in np.linspace(0, np.pi, angles, endpoint=False):
    ys = y[np.argsort(x @ np.array([np.cos(a), np.sin(a)]))]
    below = np.cumsum(ys)
    k = np.arange(1, len(x) + 1)
    right = (k - below) + (y.sum() - below)
    best = max(best, (np.maximum(right, len(x) - right) / len(x)).max())
  return best


def test_best_line_accuracy_is_exact():
  assert planar.best_line_accuracy([[0, 0], [0, 1], [1, 0], [1, 1]], [0, 1, 1, 0]) == 0.75
  assert planar.best_line_accuracy([[0, 0], [0, 1], [1, 0], [1, 1]], [0, 1, 1, 1]) == 1.0
  rng = np.random.default_rng(0)
  for _ in range(3):
    x, y = rng.normal(size=(30, 2)), rng.integers(0, 2, 30)
    assert planar.best_line_accuracy(x, y) == _brute_force(x, y)


def test_dead_units_are_those_below_zero_on_every_input():
  model = nets.build('mlp', hidden=(3,), num_classes=2, activation='relu', dropout=False)
  x = jnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
  params = model.init(jax.random.PRNGKey(0), x, train=False)['params']
  params['Dense_0'] = {
    'kernel': jnp.array([[1.0, -1.0, -1.0], [1.0, -1.0, 1.0]]),
    'bias': jnp.array([0.0, 0.0, -0.5]),
  }
  # Unit 0 is active everywhere, unit 1 never, unit 2 only on (0, 1) and (1, 1).
  np.testing.assert_array_equal(planar.dead_units(model, params, x), [False, True, False])
