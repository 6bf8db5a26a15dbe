"""The early-stopping finding: stop epochs and verdict on validation curves with known answers."""

import numpy as np

from engine import verdict as v
from experiments import early_stopping

VAL_LOSS = [1.0, 0.5, 0.4, 0.45, 0.52, 0.6, 0.8, 0.98, 1.1]  # GL: 0 0 0 12.5 30 50 100 145 175


def _results(test_err, seeds=3, kept=False, standin=False, val_loss=None):
  """Records whose validation loss is `val_loss` (one curve, or one per seed; VAL_LOSS)."""
  rng = np.random.default_rng(0)
  curves = val_loss or VAL_LOSS
  per_seed = curves if isinstance(curves[0], list) else [curves] * seeds
  records = []
  for s in range(seeds):
    te = np.asarray(test_err) + 0.001 * rng.standard_normal(len(test_err))
    r = {
      'point': {},
      'seed': s,
      'diverged': False,
      'history': {
        'val_loss': per_seed[s],
        'val_accuracy': [0.9] * len(per_seed[s]),
        'test_accuracy': list(1.0 - te),
      },
    }
    if kept:
      r['early_stopping'] = {
        'rule': 'gl',
        'threshold': 28.0,
        'patience': 10,
        'stop_epoch': 5,
        'best_epoch': 3,
        'best': {'test_accuracy': float(1.0 - te[2])},
      }
    records.append(r)
  config = early_stopping.get_config().to_dict()
  return {
    'config': config,
    'records': records,
    'seeds': seeds,
    'dataset': {'standin': standin, 'name': 'mnist'},
  }


def _row(verdict, id_, claim=''):
  return next(c for c in verdict.claims if c.id == id_ and claim in c.claim)


def test_stop_epochs_follow_the_generalization_loss():
  a = early_stopping.per_rule(_results([0.1] * 9))
  assert list(a['rules']['GL > 5%']['stop_epoch']) == [4] * 3
  assert list(a['rules']['GL > 28%']['stop_epoch']) == [5] * 3
  assert list(a['rules']['GL > 150%']['stop_epoch']) == [9] * 3
  assert list(a['rules']['patience 10']['stop_epoch']) == [0] * 3  # never, in 9 epochs
  assert list(a['rules']['GL > 28%']['restored_epoch']) == [3] * 3
  assert list(a['lowest_val_epoch']) == [3] * 3


def test_the_document_s_thresholds_stop_at_their_epochs():
  out = early_stopping.verdict(_results([0.1] * 9))
  a, b, c = (_row(out, f'003 P4b({p})') for p in 'abc')
  assert a.result == b.result == c.result == v.HOLDS
  assert (a.value, b.value) == (5.0, 9.0) and a.primary and b.primary and not c.primary
  assert a.measured.startswith('epoch 5.0 ± 0.0 (min-max 5-5) over the 3/3 seeds')
  assert 'restores epoch 3.0' in a.measured and '(d) the lowest validation error: epoch 3.0' in (
    c.measured
  )
  assert [c.id for c in out.claims].count('own') == 4


def test_a_threshold_that_never_fires_is_not_applicable_not_a_pass():
  out = early_stopping.verdict(_results([0.1] * 8, val_loss=VAL_LOSS[:8]))  # GL peaks at 145%
  b = _row(out, '003 P4b(b)')
  assert b.result == v.NOT_APPLICABLE and 'largest GL 145.0' in b.measured
  own_150 = [c for c in out.claims if c.id == 'own' and 'GL > 150%' in c.claim]
  assert len(own_150) == 2 and all(c.result == v.NOT_APPLICABLE for c in own_150)
  assert _row(out, '003 P4b(a)').result == v.HOLDS and out.outcome == 'REPRODUCED'


def test_a_threshold_that_fires_in_some_seeds_only_does_not_hold():
  out = early_stopping.verdict(
    _results([0.1] * 9, val_loss=[VAL_LOSS, VAL_LOSS, VAL_LOSS[:8] + [1.0]])
  )
  b = _row(out, '003 P4b(b)')
  assert b.result == v.DOES_NOT_HOLD and 'over the 2/3 seeds' in b.measured
  assert out.outcome == 'NOT REPRODUCED'
  own = _row(out, 'own', 'GL > 150% (the weights at the stop)')
  assert own.measured.endswith('fired in 2/3 seeds')


def test_a_stop_before_a_lower_minimum_detects_overfitting_wrongly():
  dip = [1.0, 0.5, 0.4, 0.45, 0.6, 0.35, 0.5, 0.98, 1.1]  # GL > 28% at 5, the run's best at 6
  out = early_stopping.verdict(_results([0.1] * 9, val_loss=dip))
  c = _row(out, '003 P4b(c)')
  assert c.result == v.DOES_NOT_HOLD
  assert 'GL > 28%: 0/3' in c.measured and 'GL > 150%: 3/3' in c.measured


def test_flat_test_error_after_the_best_epoch_reproduces():
  out = early_stopping.verdict(_results([0.3, 0.15, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]))
  assert out.outcome == 'REPRODUCED', out.claims
  assert len(out.claims) == 7 and abs(_row(out, 'own', 'restored').value) < 0.003


def test_overfitting_in_test_error_makes_stopping_better():
  out = early_stopping.verdict(_results([0.3, 0.15, 0.1, 0.11, 0.12, 0.13, 0.14, 0.15, 0.16]))
  assert out.outcome == 'REPRODUCED'
  at_stop, restored = _row(out, 'own', '28% (the weights'), _row(out, 'own', '28% (the best')
  assert at_stop.value < -0.03 and restored.value < -0.05


def test_test_error_still_falling_after_the_stop_is_not_reproduced():
  out = early_stopping.verdict(_results([0.3, 0.2, 0.15, 0.14, 0.13, 0.12, 0.11, 0.10, 0.09]))
  assert out.outcome == 'NOT REPRODUCED'
  restored = _row(out, 'own', '28% (the best')
  assert restored.result == v.DOES_NOT_HOLD and restored.value > 0.05


def test_the_loops_kept_weights_appear_in_the_table():
  out = early_stopping.verdict(_results([0.2] * 9, kept=True))
  row = next(r for r in out.table if 'kept by the loop' in r['rule'])
  assert row['stop epoch (per seed)'] == '5, 5, 5' and row['restored epoch'] == '3, 3, 3'


def test_too_few_seeds_or_stand_in_data_are_inconclusive():
  assert early_stopping.verdict(_results([0.1] * 9, seeds=2)).outcome == 'INCONCLUSIVE'
  assert early_stopping.verdict(_results([0.1] * 9, standin=True)).outcome == 'INCONCLUSIVE'
