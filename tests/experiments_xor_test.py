"""xor: hand-set gates exactly, the linear collapse identity, the rows on synthetic records."""

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


def _results(seeds=10, *, two_fits=(4, 4, 3), linear_gap=1e-7, linear_fit=3, with_two=True):
  """Synthetic records over the default grid: every point `seeds` models."""
  config = xor.get_config()
  records = []
  for hidden in config.sweep.model.hidden:
    if hidden == (2,) and not with_two:
      continue
    for act in config.sweep.model.activation:
      for seed in range(seeds):
        if not hidden:
          fit = 3
        elif act == 'linear':
          fit = linear_fit
        elif hidden == (2,):
          fit = two_fits[seed % len(two_fits)]
        else:
          fit = 4
        gap = linear_gap if act == 'linear' else 0.3
        records.append(
          {
            'point': {xor.HIDDEN: list(hidden), xor.ACT: act},
            'seed': seed,
            'group': f'{hidden}-{act}',
            'diverged': False,
            'final': {
              'train_accuracy': fit / 4,
              'collapse_error': gap,
              'dead_fraction': 0.5 if fit < 4 and act == 'relu' else 0.0,
            },
          }
        )
  return {
    'config': config.to_dict(),
    'records': records,
    'seeds': seeds,
    'dataset': {'name': 'xor_gate', 'standin': False},
  }


def _row(verdict, id, startswith):
  (row,) = [c for c in verdict.claims if c.id == id and c.claim.startswith(startswith)]
  return row


def test_rows_hold_on_a_good_run_and_report_the_fraction_as_measured():
  v = xor.verdict(_results())
  assert [c.id for c in v.claims] == [
    '002 1D',
    '002 1E',
    'own',
    '002 1E',
    '002 1E',
    '004 Q1.2',
    '004 Q1.2',
  ]
  assert all(c.result == 'HOLDS' for c in v.claims) and v.outcome == 'REPRODUCED'
  exists = _row(v, '002 1E', 'one hidden layer of 2 ReLUs')
  assert exists.measured.startswith('7 of 10 seeds fit 4 of 4 (measured fraction 0.70')
  assert 'of the 3 that miss a point, 3 have a hidden unit dead' in exists.measured


def test_no_seed_fitting_and_a_broken_collapse_do_not_hold():
  v = xor.verdict(_results(two_fits=(3, 2), linear_gap=1e-3, linear_fit=4))
  assert _row(v, '002 1E', 'one hidden layer of 2 ReLUs').result == 'DOES NOT HOLD'
  assert _row(v, '004 Q1.2', 'with linear activations').result == 'DOES NOT HOLD'
  assert _row(v, '004 Q1.2', 'so the deep linear').result == 'DOES NOT HOLD'
  assert _row(v, '002 1D', 'OR').result == 'HOLDS'  # exact, not from training
  assert v.outcome == 'NOT REPRODUCED'


def test_one_witness_settles_existence_on_few_seeds_and_a_miss_does_not():
  hit = xor.verdict(_results(seeds=2, two_fits=(3, 4)))
  assert hit.outcome == 'INCONCLUSIVE'  # 2 seeds < min_seeds
  assert _row(hit, '002 1E', 'one hidden layer of 2 ReLUs').result == 'HOLDS'
  assert _row(hit, '004 Q1.2', 'so the deep linear').result == 'INCONCLUSIVE'
  miss = xor.verdict(_results(seeds=2, two_fits=(3,)))
  row = _row(miss, '002 1E', 'one hidden layer of 2 ReLUs')
  assert row.result == 'INCONCLUSIVE' and row.indicated == 'DOES NOT HOLD'


def test_a_missing_grid_point_is_inconclusive_not_a_pass():
  v = xor.verdict(_results(with_two=False))
  assert _row(v, '002 1E', 'one hidden layer of 2 ReLUs').result == 'INCONCLUSIVE'
  assert v.outcome == 'INCONCLUSIVE'


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
  v = xor.verdict(results)
  assert v.outcome == 'INCONCLUSIVE'  # 2 seeds
  exact = [c for c in v.claims if not c.from_training]
  assert exact and all(c.result == 'HOLDS' for c in exact)
  assert (workdir / 'xor_boundaries.png').exists() and (workdir / 'hand_set_or_xor.png').exists()
