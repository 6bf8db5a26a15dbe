"""The lr-decay finding: verdict on records with known answers; a short real run in one program."""

import numpy as np
import pytest

from engine import plan, run, sweep
from engine import verdict as v
from experiments import lr_decay

DECAYS = (0.1, 0.01, 0.001, 0.0001)


def _results(final_acc, seeds=3, epochs=200, per_epoch=15, noise=0.003, curves=None):
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
  config = lr_decay.get_config()
  if curves:
    config.verdict.document_curves.update(curves)
  return {
    'config': config.to_dict(),
    'records': records,
    'seeds': seeds,
    'dataset': {'standin': False, 'name': 'blobs'},
  }


def _rows(verdict, claim):
  return [c for c in verdict.claims if claim in c.claim]


def _letters(verdict):
  return {c.claim.split()[1]: c for c in verdict.claims if c.claim.startswith('curve ')}


def test_fast_decay_learning_least_reproduces_and_the_letters_stay_open_without_the_figure():
  out = lr_decay.verdict(_results([0.69, 0.75, 0.80, 0.83]))
  assert out.outcome == 'REPRODUCED', out.claims
  assert [c.id for c in out.claims[:3]] == ['003 P4a'] * 3
  collapse = _rows(out, 'collapses')[0]
  assert collapse.id == 'own' and collapse.value == pytest.approx(1 / (1 + 0.1 * 15))
  assert _rows(out, 'constant rate')[0].value == pytest.approx(1 / (1 + 0.0001 * 3000))
  # 0.69 is far above chance (1/3 + 3 SE = 0.40 on 500 test points): learning is not prevented
  assert _rows(out, 'prevents any learning')[0].result == v.DOES_NOT_HOLD
  letters = _letters(out)
  assert sorted(letters) == ['A', 'B', 'C', 'D']
  assert all(c.result == v.INCONCLUSIVE and not c.primary for c in letters.values())
  assert 'decay 0.0001' in letters['A'].measured and 'rank 4 of 4' in letters['A'].measured
  assert [r['answer key says'] for r in out.table] == ['B', 'D', 'C', 'A']
  assert [r['test acc rank (1 = lowest)'] for r in out.table] == ['1', '2', '3', '4']


def test_fast_decay_not_lowest_is_not_reproduced():
  out = lr_decay.verdict(_results([0.80, 0.75, 0.83, 0.83]))
  assert out.outcome == 'NOT REPRODUCED'
  assert out.claims[0].result == v.DOES_NOT_HOLD and _rows(out, 'collapses')[0].passed


def test_a_rate_that_learns_nothing_is_prevented_learning():
  out = lr_decay.verdict(_results([0.34, 0.75, 0.80, 0.83]))
  assert _rows(out, 'prevents any learning')[0].result == v.HOLDS


def test_the_figure_s_accuracies_match_the_letters_by_rank():
  # Panels ranked as the key says (B lowest, then D, C, A): every letter holds.
  key = {'A': 0.82, 'B': 0.70, 'C': 0.80, 'D': 0.76}
  out = lr_decay.verdict(_results([0.69, 0.75, 0.80, 0.83], curves=key))
  assert all(c.result == v.HOLDS for c in _letters(out).values())
  # Panels A and C swapped in the figure: the key's A and C are wrong, B and D hold.
  swapped = {**key, 'A': 0.80, 'C': 0.82}
  letters = _letters(lr_decay.verdict(_results([0.69, 0.75, 0.80, 0.83], curves=swapped)))
  assert letters['A'].result == v.DOCUMENT_WRONG and letters['A'].correct == 'A - 0.001'
  assert letters['C'].result == v.DOCUMENT_WRONG and letters['C'].correct == 'C - 0.0001'
  assert letters['B'].result == letters['D'].result == v.HOLDS


def test_decays_whose_accuracies_tie_cannot_be_told_apart():
  key = {'A': 0.82, 'B': 0.70, 'C': 0.80, 'D': 0.76}
  out = lr_decay.verdict(_results([0.69, 0.75, 0.83, 0.83], curves=key))
  letters = _letters(out)
  assert letters['A'].result == letters['C'].result == v.INCONCLUSIVE
  assert letters['B'].result == letters['D'].result == v.HOLDS
  assert _rows(out, 'told apart')[0].result == v.DOES_NOT_HOLD
  ties = lr_decay.accuracy_ties(lr_decay.Shape(_results([0.69, 0.75, 0.83, 0.83])).test)
  assert ties[:2] == [[0.1], [0.01]] and sorted(ties[2]) == [0.0001, 0.001]


def test_a_short_run_collapses_the_rate_early_and_not_the_slow_one():
  out = lr_decay.verdict(_results([0.69, 0.75, 0.83, 0.83], epochs=1, per_epoch=2))
  assert _rows(out, 'collapses')[0].passed is False  # 2 updates: lr 0.83 lr0, not yet collapsed
  assert out.outcome == 'NOT REPRODUCED'


def test_one_seed_is_inconclusive():
  out = lr_decay.verdict(_results([0.69, 0.75, 0.83, 0.83], seeds=1))
  assert out.outcome == 'INCONCLUSIVE'


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
  out = capsys.readouterr().out
  assert 'decay 0.1: rate -> ' in out and 'exam curve' not in out
