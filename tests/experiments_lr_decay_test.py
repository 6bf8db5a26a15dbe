"""The lr-decay finding: verdict on records with known answers; a short real run in one program."""

import numpy as np
import pytest

from engine import plan, run, sweep
from experiments import lr_decay

DECAYS = (0.1, 0.01, 0.001, 0.0001)


def _results(final_acc, seeds=3, epochs=200, per_epoch=15, noise=0.003):
  rng = np.random.default_rng(0)
  records = []
  for d, acc in zip(DECAYS, final_acc):
    updates = per_epoch * np.arange(1, epochs + 1)
    for s in range(seeds):
      a = [float(acc + noise * rng.standard_normal())] * epochs
      records.append(
        {
          'point': {lr_decay.DECAY: d},
          'seed': s,
          'diverged': False,
          'history': {
            'learning_rate': list(0.01 / (1 + d * updates)),
            'updates': list(updates.astype(float)),
            'train_accuracy': a,
            'test_accuracy': a,
          },
        }
      )
  return {
    'config': lr_decay.get_config().to_dict(),
    'records': records,
    'seeds': seeds,
    'dataset': {'standin': False},
  }


def test_fast_decay_learning_least_reproduces():
  v = lr_decay.verdict(_results([0.69, 0.75, 0.83, 0.83]))
  assert v.outcome == 'REPRODUCED', v.claims
  assert v.claims[2].value == pytest.approx(1 / (1 + 0.1 * 15))
  assert v.claims[3].value == pytest.approx(1 / (1 + 0.0001 * 3000))
  assert [r['exam curve'] for r in v.table] == ['B', 'D', 'C', 'A']


def test_fast_decay_not_lowest_is_not_reproduced():
  v = lr_decay.verdict(_results([0.80, 0.75, 0.83, 0.83]))
  assert v.outcome == 'NOT REPRODUCED'
  assert v.claims[0].passed is False and v.claims[2].passed


def test_a_short_run_collapses_the_rate_early_and_not_the_slow_one():
  v = lr_decay.verdict(_results([0.69, 0.75, 0.83, 0.83], epochs=1, per_epoch=2))
  assert v.claims[2].passed is False  # 2 updates: lr 0.83 lr0, not yet collapsed
  assert v.outcome == 'NOT REPRODUCED'


def test_one_seed_is_inconclusive():
  v = lr_decay.verdict(_results([0.69, 0.75, 0.83, 0.83], seeds=1))
  assert v.outcome == 'INCONCLUSIVE'


def test_the_four_decays_train_in_one_program_with_their_own_rates(tmp_path, capsys):
  c = lr_decay.get_config('quick')
  c.sweep.optimizer.decay = DECAYS
  c.train.epochs = 3
  assert len(sweep.groups(c, plan.models_per_program(c))) == 1
  results = run.run(lr_decay, c, str(tmp_path), progress=False)
  assert len(results['records']) == 4
  for r in results['records']:
    d, h = r['point'][lr_decay.DECAY], r['history']
    np.testing.assert_array_equal(h['updates'], [15, 30, 45])
    np.testing.assert_allclose(
      h['learning_rate'], 0.01 / (1 + d * np.array([15, 30, 45])), rtol=1e-6
    )
  accs = {r['point'][lr_decay.DECAY]: r['final']['train_accuracy'] for r in results['records']}
  assert len(set(accs.values())) > 1  # the decays really trained differently
  assert (tmp_path / 'learning_rate_vs_update.png').exists()
  assert (tmp_path / 'accuracy_vs_epoch.png').exists()
  assert 'decay 0.1 = exam curve B' in capsys.readouterr().out
