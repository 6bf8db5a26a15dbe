"""The early-stopping finding: stop epochs and verdict on validation curves with known answers."""

import numpy as np

from experiments import early_stopping

VAL_LOSS = [1.0, 0.5, 0.4, 0.45, 0.52, 0.6, 0.8, 0.98, 1.1]  # GL: 0 0 0 12.5 30 50 100 145 175


def _results(test_err, seeds=3, kept=False, standin=False):
  rng = np.random.default_rng(0)
  records = []
  for s in range(seeds):
    te = np.asarray(test_err) + 0.001 * rng.standard_normal(len(test_err))
    r = {
      'point': {},
      'seed': s,
      'diverged': False,
      'history': {
        'val_loss': VAL_LOSS,
        'val_accuracy': [0.9] * len(VAL_LOSS),
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
  return {'config': config, 'records': records, 'seeds': seeds, 'dataset': {'standin': standin}}


def test_stop_epochs_follow_the_generalization_loss():
  a = early_stopping.per_rule(_results([0.1] * 9))
  assert list(a['rules']['GL > 5%']['stop_epoch']) == [4] * 3
  assert list(a['rules']['GL > 28%']['stop_epoch']) == [5] * 3
  assert list(a['rules']['GL > 150%']['stop_epoch']) == [9] * 3
  assert list(a['rules']['patience 10']['stop_epoch']) == [0] * 3  # never, in 9 epochs
  assert list(a['rules']['GL > 28%']['restored_epoch']) == [3] * 3
  assert list(a['lowest_val_epoch']) == [3] * 3


def test_flat_test_error_after_the_best_epoch_reproduces():
  v = early_stopping.verdict(_results([0.3, 0.15, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]))
  assert v.outcome == 'REPRODUCED', v.claims
  assert len(v.claims) == 4 and abs(v.claims[1].value) < 0.003


def test_overfitting_in_test_error_makes_stopping_better():
  v = early_stopping.verdict(_results([0.3, 0.15, 0.1, 0.11, 0.12, 0.13, 0.14, 0.15, 0.16]))
  assert v.outcome == 'REPRODUCED'
  assert v.claims[0].value < -0.03 and v.claims[1].value < -0.05


def test_test_error_still_falling_after_the_stop_is_not_reproduced():
  v = early_stopping.verdict(_results([0.3, 0.2, 0.15, 0.14, 0.13, 0.12, 0.11, 0.10, 0.09]))
  assert v.outcome == 'NOT REPRODUCED'
  assert v.claims[1].passed is False and v.claims[1].value > 0.05


def test_the_loops_kept_weights_appear_in_the_table():
  v = early_stopping.verdict(_results([0.2] * 9, kept=True))
  row = next(r for r in v.table if 'kept by the loop' in r['rule'])
  assert row['stop epoch (per seed)'] == '5, 5, 5' and row['restored epoch'] == '3, 3, 3'


def test_too_few_seeds_or_stand_in_data_are_inconclusive():
  assert early_stopping.verdict(_results([0.1] * 9, seeds=2)).outcome == 'INCONCLUSIVE'
  assert early_stopping.verdict(_results([0.1] * 9, standin=True)).outcome == 'INCONCLUSIVE'
