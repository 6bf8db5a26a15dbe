"""Claim rows and the outcome derived from them."""

import pytest

from engine import verdict as v


def _row(result, **kw):
  return v.Claim(id='002 3G', claim='c', document='d', measured='m', threshold='t', result=result,
                 **kw)  # fmt: skip


def test_test_rows_hold_fail_or_blame_the_document():
  assert v.test('x', 'c', document='d', measured='m', threshold='t', passed=True).result == v.HOLDS
  fails = v.test('x', 'c', document='d', measured='m', threshold='t', passed=False, correct='5')
  assert fails.result == v.DOES_NOT_HOLD and fails.correct == ''
  wrong = v.test('x', 'c', document='d', measured='m', threshold='t', passed=False, correct='5',
                 wrong_if_fails=True)  # fmt: skip
  assert wrong.result == v.DOCUMENT_WRONG and wrong.correct == '5' and wrong.passed is False
  assert v.test('x', 'c', document='d', measured='m', threshold='t', passed=None).passed is None


def test_a_document_number_is_wrong_beyond_the_tolerance():
  right = v.number('003 P3', 'p', document=0.378, computed=0.3775, tolerance=0.001, fmt='{:.3f}')
  wrong = v.number('003 P3', 'p', document=0.864, computed=0.3775, tolerance=0.001, fmt='{:.3f}')
  assert right.result == v.HOLDS and right.correct == ''
  assert wrong.result == v.DOCUMENT_WRONG and wrong.correct == '0.378' and wrong.document == '0.864'


def test_the_outcome_rests_on_the_primary_rows():
  side_wrong = [_row(v.HOLDS), _row(v.DOCUMENT_WRONG, primary=False)]
  assert v.decide(side_wrong, []) == (v.REPRODUCED, [])
  assert v.decide([_row(v.HOLDS), _row(v.DOES_NOT_HOLD)], [])[0] == v.NOT_REPRODUCED
  assert v.decide([_row(v.HOLDS), _row(v.INCONCLUSIVE)], [])[0] == v.INCONCLUSIVE
  assert v.decide([_row(v.HOLDS), _row(v.NOT_APPLICABLE)], [])[0] == v.REPRODUCED
  assert v.decide([_row(v.NOT_APPLICABLE)], [])[0] == v.INCONCLUSIVE


def test_a_run_too_small_to_judge_makes_training_rows_inconclusive_but_keeps_what_it_showed():
  rows = [_row(v.DOES_NOT_HOLD), _row(v.DOCUMENT_WRONG, from_training=False, correct='7')]
  reasons = v.run_reasons(seeds=1, min_seeds=3, standin=False, diverged=0)
  outcome, why = v.decide(rows, reasons)
  assert outcome == v.INCONCLUSIVE and 'needs at least 3' in why[0]
  assert rows[0].result == v.INCONCLUSIVE and rows[0].indicated == v.DOES_NOT_HOLD
  assert rows[0].passed is False and rows[0].shown == 'INCONCLUSIVE (this run: DOES NOT HOLD)'
  assert rows[1].result == v.DOCUMENT_WRONG and rows[1].correct == '7'  # a count needs no seeds


def test_an_unknown_result_is_refused_and_the_tally_counts_rows():
  with pytest.raises(ValueError):
    _row('PASS')
  verdict = v.Verdict(v.REPRODUCED, [_row(v.HOLDS), _row(v.HOLDS), _row(v.DOCUMENT_WRONG)], [], [])
  assert verdict.tally() == '2 HOLDS, 1 DOCUMENT WRONG'


def _record(acc, loss, initial=2.3, exploded=False):
  return {
    'final': {'train_accuracy': acc, 'train_loss': loss},
    'initial': {'train_loss': initial, 'train_accuracy': 0.1},
    'history': {'train_running_loss': [loss]},
    'exploded': exploded,
    'diverged': False,
  }


def test_a_run_that_never_trained_supports_no_verdict():
  kw = dict(seeds=3, min_seeds=3, standin=False, diverged=0, num_classes=10)
  trained = [_record(0.9, 0.3), _record(0.12, 2.4)]
  assert v.run_reasons(records=trained, **kw) == []
  exploded = [_record(0.9, 0.3), _record(0.1, 3e28, exploded=True)]
  [why] = v.run_reasons(records=exploded, **kw)
  assert 'exploded' in why and '3e+28 from 2.3' in why
  [why] = v.run_reasons(records=[_record(0.11, 2.4), _record(0.13, 2.5)], **kw)
  assert why.startswith('no model trained')
  [why] = v.run_reasons(records=trained, control=[trained[1]], **kw)
  assert why.startswith('the control point did not train')
  rows = [_row(v.DOES_NOT_HOLD)]
  assert v.decide(rows, v.run_reasons(records=exploded, **kw))[0] == v.INCONCLUSIVE
