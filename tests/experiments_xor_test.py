"""xor: hand-set gates exactly, the linear collapse identity, and the quick run's measurements."""

import jax
import numpy as np
import pytest

import nets
from engine import run
from experiments import xor


def test_hand_set_networks_compute_their_gates_exactly():
  for gate, want in xor.HAND_SET_MARGIN.items():
    margins, _, _ = xor.hand_set_margins(gate)
    np.testing.assert_array_equal(margins, want)


@pytest.mark.parametrize('activation,collapses', [('linear', True), ('relu', False)])
def test_a_deep_linear_network_is_one_affine_map(activation, collapses):
  model = nets.build(
    'mlp',
    hidden=(5, 4, 3),
    num_classes=2,
    activation=activation,
    kernel_init='glorot_normal',
    dropout=False,
  )
  x = 3 * jax.random.normal(jax.random.PRNGKey(1), (64, 2))
  params = model.init(jax.random.PRNGKey(0), x, train=False)['params']
  params = jax.tree.map(lambda p: p + 0.1, params)  # non-zero biases too
  gap = float(xor.collapse_error(model, params, x))
  assert (gap < 1e-5) if collapses else (gap > 1e-2)


@pytest.fixture(scope='module')
def quick(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('xor')
  return run.run(xor, xor.get_config('quick'), str(workdir), progress=False), workdir


def test_the_quick_run_measures_fit_and_collapse(quick):
  results, workdir = quick
  for r in results['records']:
    hidden, act = tuple(r['point'][xor.HIDDEN]), r['point'][xor.ACT]
    fit = round(4 * r['final']['train_accuracy'])
    if not hidden or act == 'linear':
      assert fit <= 3
    if act == 'linear':
      assert r['final']['collapse_error'] < 1e-5
    elif hidden:
      assert r['final']['collapse_error'] > 1e-3
  verdict = xor.verdict(results)
  assert verdict.outcome == 'INCONCLUSIVE'  # 2 seeds
  assert verdict.claims[0].passed and verdict.claims[1].passed and verdict.claims[2].passed
  assert (workdir / 'xor_boundaries.png').exists() and (workdir / 'hand_set_or_xor.png').exists()
