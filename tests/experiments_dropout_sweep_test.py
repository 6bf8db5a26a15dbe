"""The dropout finding's verdict, on measured-looking records with known answers."""

import numpy as np
import pytest

from experiments import dropout_sweep


def _results(
  test_acc, train_acc=None, seeds=3, noise=0.002, standin=False, diverge=None, dataset='mnist'
):
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
  return {
    'config': config,
    'records': records,
    'seeds': seeds,
    'dataset': {'name': dataset, 'standin': standin},
  }


ASSIGNED = [dropout_sweep.ASSIGNMENT[r] for r in sorted(dropout_sweep.ASSIGNMENT)]


def test_the_assignments_own_numbers_reproduce():
  v = dropout_sweep.verdict(_results(ASSIGNED))
  assert v.outcome == 'REPRODUCED', v.claims
  assert v.claims[0].value < -0.95
  assert v.table[0]["document's MNIST test acc"] == 0.9714
  assert [c.id for c in v.claims[:3]] == ['002 3G', '002 3G', '001 T/F 1']


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


def _row(verdict, id_, part):
  (row,) = [c for c in verdict.claims if c.id == id_ and part in c.claim]
  return row


def test_best_nonzero_rate_holds_fails_or_stays_unsettled():
  def best(acc):
    return _row(dropout_sweep.verdict(_results(acc)), '002 3G', 'best non-zero')

  clear = list(ASSIGNED)
  clear[2] = 0.98  # 0.2 first by 0.0106, far beyond the seed spread
  assert best(clear).result == 'HOLDS' and best(clear).value == 0.2
  beaten = list(ASSIGNED)
  beaten[3] = 0.98  # 0.3 first
  row = best(beaten)
  assert row.result == 'DOES NOT HOLD' and row.value == 0.3 and not row.primary
  assert best(ASSIGNED).result == 'INCONCLUSIVE'  # 0.97 vs 0.9694: inside the spread
  flat = _row(dropout_sweep.verdict(_results([0.97] * 10, noise=0.003)), '002 3G', 'best non')
  assert flat.result == 'INCONCLUSIVE'  # the best of nine by chance is no winner
  results = _results(ASSIGNED)
  results['records'] = [r for r in results['records'] if r['point']['model.dropout_rate'] != 0.2]
  missing = _row(dropout_sweep.verdict(results), '002 3G', 'best non-zero')
  assert missing.result == 'NOT APPLICABLE'


def test_most_effective_regularization_is_wrong_in_the_documents_own_numbers():
  v = dropout_sweep.verdict(_results(ASSIGNED, seeds=1))
  own = _row(v, '002 3G', 'own numbers')
  assert own.result == 'DOCUMENT WRONG' and 'rate 0' in own.correct  # no training needed
  measured = _row(v, '002 3G', 'beats no dropout')
  assert measured.result == 'INCONCLUSIVE' and measured.indicated == 'DOES NOT HOLD'
  helps = list(ASSIGNED)
  helps[3] = 0.98
  assert _row(dropout_sweep.verdict(_results(helps)), '002 3G', 'beats no').result == 'HOLDS'


def test_removing_regularization_raises_train_accuracy_so_the_answer_f_is_wrong():
  row = _row(dropout_sweep.verdict(_results(ASSIGNED)), '001 T/F 2', '')
  assert row.result == 'DOCUMENT WRONG' and row.correct == 'T' and row.document == 'F'
  assert row.measured.endswith(': T') and row.value < -0.95
  rising = list(np.linspace(0.95, 0.99, 10))  # more dropout, higher train accuracy
  row = _row(dropout_sweep.verdict(_results(ASSIGNED, rising)), '001 T/F 2', '')
  assert row.result == 'HOLDS' and row.measured.endswith(': F')
  flat = _row(dropout_sweep.verdict(_results([0.97] * 10, noise=0.003)), '001 T/F 2', '')
  assert flat.result == 'INCONCLUSIVE'


def test_on_other_data_the_documents_mnist_numbers_are_left_out(tmp_path, monkeypatch):
  results = _results(ASSIGNED, dataset='fashion_mnist')
  v = dropout_sweep.verdict(results)
  assert v.table[0]["document's MNIST test acc"] == '-'
  seen = {}
  monkeypatch.setattr(
    dropout_sweep.report, 'sweep_plot', lambda path, x, series, **kw: seen.update(kw) or path
  )
  dropout_sweep.plot(results, str(tmp_path))
  assert seen['reference'] is None and seen['title'].startswith('fashion_mnist')
  dropout_sweep.plot(_results(ASSIGNED), str(tmp_path))
  assert seen['reference'][0] == "the document's MNIST test acc (002 3G)"
