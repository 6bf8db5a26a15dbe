"""Depth vs width: the budget splits, the verdict on records with known answers, a quick run."""

import os

import numpy as np
import pytest

from engine import run
from experiments import depth_vs_width as dw


def test_splits_spend_the_whole_budget_larger_layers_first():
  assert dw.split(100, 3) == (34, 33, 33)
  assert dw.split(200, 3) == (67, 67, 66)
  assert dw.split(1000, 4) == (250,) * 4
  hidden = dw.get_config().sweep.model.hidden
  assert len(hidden) == 12
  assert sorted({(sum(h), len(h)) for h in hidden}) == [
    (b, d) for b in (100, 200, 1000) for d in (1, 2, 3, 4)
  ]
  assert dw.parameters((100,)) == 784 * 100 + 100 + 100 * 10 + 10


def _results(acc, seeds=3, noise=0.0005):
  """`acc[(budget, depth)]` -> records of the default grid, seeds jittered around it."""
  rng = np.random.default_rng(0)
  records = []
  for hidden in dw.get_config().sweep.model.hidden:
    for s in range(seeds):
      records.append(
        {
          'point': {dw.HIDDEN: list(hidden)},
          'seed': s,
          'diverged': False,
          'final': {
            'test_accuracy': acc[(sum(hidden), len(hidden))] + noise * rng.standard_normal()
          },
        }
      )
  return {
    'config': dw.get_config().to_dict(),
    'records': records,
    'seeds': seeds,
    'dataset': {'standin': False},
  }


def _grid(base, per_layer):
  return {(b, d): base[b] + per_layer * (d - 1) for b in base for d in (1, 2, 3, 4)}


def test_met_bars_and_rising_width_reproduce_and_depth_is_called_by_its_sign():
  v = dw.verdict(_results(_grid({100: 0.977, 200: 0.981, 1000: 0.985}, -0.003)))
  assert v.outcome == 'REPRODUCED', v.claims
  assert [c.passed for c in v.claims] == [True] * 4
  assert '1000: 0.98' in v.claims[2].measured  # the best 1000-unit net is the one wide layer
  assert all(row['splitting the budget over more layers'].startswith('hurt') for row in v.table)
  helped = dw.verdict(_results(_grid({100: 0.977, 200: 0.981, 1000: 0.985}, +0.003)))
  assert all(r['splitting the budget over more layers'].startswith('helped') for r in helped.table)
  flat = dw.verdict(_results(_grid({100: 0.977, 200: 0.981, 1000: 0.985}, 0.0)))
  assert all(r['splitting the budget over more layers'].startswith('no clear') for r in flat.table)


def test_a_missed_bar_or_width_that_does_not_help_is_not_reproduced():
  missed = dw.verdict(_results(_grid({100: 0.977, 200: 0.981, 1000: 0.982}, -0.001)))
  assert missed.outcome == 'NOT REPRODUCED'
  assert [c.passed for c in missed.claims] == [True, True, False, True]
  flat_width = dw.verdict(_results(_grid({100: 0.985, 200: 0.985, 1000: 0.985}, -0.001)))
  assert flat_width.claims[3].passed is False


def test_too_few_seeds_is_inconclusive():
  v = dw.verdict(_results(_grid({100: 0.977, 200: 0.981, 1000: 0.985}, 0.0), seeds=1))
  assert v.outcome == 'INCONCLUSIVE'


def test_quick_run_trains_each_architecture_as_its_own_group(shared_datasets, tmp_path):
  c = dw.get_config('quick')
  c.dataset.data_dir = shared_datasets
  c.dataset.allow_standin = False
  dw.validate(c)
  results = run.run(dw, c, str(tmp_path), progress=False, command='test')
  hidden = {tuple(r['point'][dw.HIDDEN]) for r in results['records']}
  assert hidden == set(c.sweep.model.hidden)
  assert len({r['group'] for r in results['records']}) == 4
  v = results['verdict']
  assert [row['budget'] for row in v['table']] == [16, 64]
  assert all(0.3 < r['final']['test_accuracy'] <= 1.0 for r in results['records'])
  assert os.path.exists(tmp_path / 'accuracy_vs_depth_and_width.png')


def test_bad_architectures_are_refused():
  c = dw.get_config()
  c.sweep.model.hidden = ((100,), (0, 5))
  with pytest.raises(Exception, match='positive layer widths'):
    dw.validate(c)


def test_a_rate_without_dropout_layers_is_refused():
  c = dw.get_config()
  c.model.dropout = False
  with pytest.raises(Exception, match='would be ignored'):
    dw.validate(c)
  c.model.dropout_rate = 0.0
  dw.validate(c)
