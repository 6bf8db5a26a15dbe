"""weight_init: the quick run measures exact zero gradients and exact symmetry; the checks."""

import jax.numpy as jnp
import numpy as np
import pytest

from engine import run
from experiments import weight_init


@pytest.fixture(scope='module')
def quick(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('weight_init')
  config = weight_init.get_config('quick')
  return run.run(weight_init, config, str(workdir), progress=False), workdir


def _records(results, init, act):
  return [
    r
    for r in results['records']
    if r['point'][weight_init.INIT] == init and r['point'][weight_init.ACT] == act
  ]


def test_zeros_with_relu_has_exactly_zero_kernel_gradients(quick):
  results, _ = quick
  for r in _records(results, 'zeros', 'relu'):
    assert set(r['history']['kernel_grad_norm']) == {0.0}
    assert set(r['history']['kernel_max_abs']) == {0.0}
    assert r['history']['grad_norm'][0] > 0  # the output bias still learns


def test_zeros_with_sigmoid_learns_but_stays_symmetric(quick):
  results, _ = quick
  for r in _records(results, 'zeros', 'sigmoid'):
    assert min(r['history']['kernel_grad_norm']) > 0
    assert max(r['history']['kernel_max_abs']) > 0
    assert set(r['history']['symmetry']) == {0.0}
  for r in _records(results, weight_init.RANDOM_INIT, 'sigmoid'):
    assert min(r['history']['symmetry']) > 0.01


def test_the_quick_run_reports_every_claim_and_draws(quick):
  results, workdir = quick
  verdict = weight_init.verdict(results)
  assert verdict.outcome == 'INCONCLUSIVE'  # 2 seeds, and no constant non-zero init in quick
  assert verdict.claims[0].passed is True
  assert len(verdict.claims) == 5 and len(verdict.table) == 4
  assert (workdir / 'decision_boundaries.png').stat().st_size > 10000
  assert (workdir / 'test_error_curves.png').exists()


def test_symmetry_measure_is_the_largest_gap_between_two_units_incoming_weights():
  model = type('M', (), {'hidden': (3,)})
  params = {
    'Dense_0': {
      'kernel': jnp.array([[1.0, 1.0, 1.0], [2.0, 2.5, 2.0]]),
      'bias': jnp.array([0.0, 0.0, -0.25]),
    },
    'Dense_1': {'kernel': jnp.zeros((3, 2)), 'bias': jnp.zeros(2)},
  }
  assert float(weight_init.symmetry(params, model)) == 0.5


def test_passes_to_threshold():
  err = np.array([[0.5, 0.2, 0.05, 0.01], [0.5, 0.5, 0.5, 0.5]])
  np.testing.assert_array_equal(weight_init.passes_to(err, 0.1, 10), [30, np.inf])
