"""The dropout finding's verdict, on measured-looking records with known answers."""

import numpy as np
import pytest

from experiments import dropout_sweep


def _results(test_acc, train_acc=None, seeds=3, noise=0.002, standin=False, diverge=None):
  rng = np.random.default_rng(0)
  train_acc = train_acc or test_acc
  records = []
  for rate, te, tr in zip(sorted(dropout_sweep.ASSIGNMENT), test_acc, train_acc):
    for s in range(seeds):
      bad = diverge == (rate, s)
      records.append(
        {
          'point': {'model.dropout_rate': rate},
          'seed': s,
          'diverged': bad,
          'final': {
            'test_accuracy': None if bad else te + noise * rng.standard_normal(),
            'train_accuracy': None if bad else tr + noise * rng.standard_normal(),
          },
        }
      )
  config = dropout_sweep.get_config().to_dict()
  return {'config': config, 'records': records, 'seeds': seeds, 'dataset': {'standin': standin}}


ASSIGNED = [dropout_sweep.ASSIGNMENT[r] for r in sorted(dropout_sweep.ASSIGNMENT)]


def test_the_assignments_own_numbers_reproduce():
  v = dropout_sweep.verdict(_results(ASSIGNED))
  assert v.outcome == 'REPRODUCED', v.claims
  assert v.claims[0].value < -0.95
  assert v.table[0]['assignment test acc'] == 0.9714


def test_flat_accuracy_is_not_reproduced():
  flat = [0.97] * 10
  v = dropout_sweep.verdict(_results(flat, noise=0.003))
  assert v.outcome == 'NOT REPRODUCED'
  assert v.claims[1].passed is False


def test_overfitting_pattern_fails_the_train_check():
  train_rising = list(np.linspace(0.95, 0.99, 10))  # test falls but train rises
  v = dropout_sweep.verdict(_results(ASSIGNED, train_rising))
  assert v.claims[0].passed and v.claims[1].passed and v.claims[2].passed is False
  assert v.outcome == 'NOT REPRODUCED'


def test_a_gap_inside_the_seed_spread_does_not_count():
  close = [0.97, 0.97, 0.97, 0.969, 0.968, 0.967, 0.966, 0.965, 0.964, 0.963]
  v = dropout_sweep.verdict(_results(close, noise=0.01))
  assert v.claims[1].passed is False


@pytest.mark.parametrize(
  'kw,reason',
  [
    (dict(seeds=1), 'needs at least 3'),
    (dict(standin=True), 'stand-in'),
    (dict(diverge=(0.5, 1)), 'diverged'),
  ],
)
def test_inconclusive_when_the_run_cannot_support_a_verdict(kw, reason):
  v = dropout_sweep.verdict(_results(ASSIGNED, **kw))
  assert v.outcome == 'INCONCLUSIVE'
  assert any(reason in r for r in v.reasons)
