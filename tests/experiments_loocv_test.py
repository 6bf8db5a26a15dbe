"""003 P7: the document's data, LOOCV against the hat-matrix closed form, and the row logic."""

import copy
import json

import numpy as np
import pytest

from engine import run
from experiments import loocv


@pytest.fixture(scope='module')
def finished(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('loocv')
  results = run.run(loocv, loocv.get_config('quick'), str(workdir), command='test')
  return workdir, results


def _rows(verdict):
  return [(c.claim, c.result) for c in verdict.claims]


def _result(verdict, claim):
  return next(c.result for c in verdict.claims if c.claim == claim)


def test_the_data_is_drawn_as_the_documents_code_draws_it():
  """A literal transcription of the document's loop, on numpy's global generator as it has it."""
  saved = np.random.get_state()  # noqa: NPY002
  np.random.seed(1999)  # noqa: NPY002
  np.random.normal(0, 1, 1)  # noqa: NPY002  (`s`, never used)
  xs, ys = [], []
  for _ in range(100):
    x = np.random.normal(0, 1, 1)  # noqa: NPY002
    xs.append(x[0])
    ys.append((x - 2 * x**2 + np.random.normal(0, 1, 1))[0])  # noqa: NPY002
  np.random.set_state(saved)  # noqa: NPY002
  ds = loocv.generate(loocv.get_config().data)
  np.testing.assert_array_equal(ds.x, xs)
  np.testing.assert_allclose(ds.y, ys, rtol=1e-13)  # x - 2x^2 vs polyval: rounding only


def test_vmapped_folds_equal_a_loop_of_numpy_fits():
  rng = np.random.RandomState(3)
  x, y = rng.normal(size=23), rng.normal(size=23)
  masks = loocv.kfold_masks(23, 4)
  got = loocv.cv_scores(x, y, [1, 3], masks)
  for i, d in enumerate([1, 3]):
    X = np.vander(x, d + 1, increasing=True)
    for f, m in enumerate(masks.astype(bool)):
      beta = np.linalg.lstsq(X[~m], y[~m], rcond=None)[0]
      assert got[i, f] == pytest.approx(np.mean((X[m] @ beta - y[m]) ** 2), rel=1e-9)


def test_kfold_masks_are_sklearns_kfold():
  model_selection = pytest.importorskip('sklearn.model_selection')
  masks = loocv.kfold_masks(23, 5)
  for m, (_, test) in zip(masks, model_selection.KFold(5).split(np.zeros(23))):
    np.testing.assert_array_equal(np.flatnonzero(m), test)


def test_loocv_equals_the_hat_matrix_closed_form(finished):
  _, results = finished
  x, y = np.asarray(results['data']['x']), np.asarray(results['data']['y'])
  for d, got in zip(results['degrees'], results['procedures']['loocv']['mse']):
    X = np.vander(x, d + 1, increasing=True)
    H = X @ np.linalg.inv(X.T @ X) @ X.T
    r = y - H @ y
    assert got == pytest.approx(np.mean((r / (1 - np.diag(H))) ** 2), rel=1e-10)


def test_the_printed_numbers_are_loocv_and_degree_two_wins(finished):
  workdir, results = finished
  loo = results['procedures']['loocv']
  np.testing.assert_allclose(loo['mse'], results['config']['document']['mse'], atol=1e-9)
  np.testing.assert_allclose(loo['std'], results['config']['document']['std'], atol=1e-9)
  assert int(np.argmin(loo['mse'])) + 1 == 2
  assert abs(results['procedures']['kfold']['mse'][0] - loo['mse'][0]) > 0.1
  v = results['verdict']
  assert v['outcome'] == 'REPRODUCED'
  by_claim = {c['claim']: c['result'] for c in v['claims']}
  assert by_claim['the printed numbers are leave-one-out CV errors'] == 'HOLDS'
  assert by_claim['the code as shown computes LOOCV'] == 'DOCUMENT WRONG'
  assert by_claim['the quadratic model has the smallest LOOCV error'] == 'HOLDS'
  report = (workdir / 'report.md').read_text()
  assert report.startswith('# loocv: REPRODUCED') and '003 P7' in report
  assert (workdir / 'cv_error_vs_degree.png').is_file()
  assert json.loads((workdir / 'status.json').read_text())['state'] == 'finished'


def test_a_misprinted_number_is_document_wrong(finished):
  _, results = finished
  bad = copy.deepcopy(results)
  bad['config']['document']['mse'][1] += 0.01
  v = loocv.verdict(bad)
  assert _result(v, 'degree-2 LOOCV error (printed "MSE")') == 'DOCUMENT WRONG'
  assert _result(v, 'degree-1 LOOCV error (printed "MSE")') == 'HOLDS'
  assert _result(v, 'the printed numbers are leave-one-out CV errors') == 'DOES NOT HOLD'
  assert v.outcome == 'NOT REPRODUCED'


def test_another_winning_degree_does_not_hold(finished):
  _, results = finished
  bad = copy.deepcopy(results)
  bad['procedures']['loocv']['mse'][2] = 0.5
  v = loocv.verdict(bad)
  assert _result(v, 'the quadratic model has the smallest LOOCV error') == 'DOES NOT HOLD'
  assert v.outcome == 'NOT REPRODUCED'


def test_printed_5_fold_numbers_would_be_the_codes_own(finished):
  _, results = finished
  other = copy.deepcopy(results)
  other['config']['document']['mse'] = list(results['procedures']['kfold']['mse'])
  other['config']['document']['std'] = list(results['procedures']['kfold']['std'])
  v = loocv.verdict(other)
  assert _result(v, 'the code as shown computes LOOCV') == 'HOLDS'
  assert _result(v, 'the printed numbers are leave-one-out CV errors') == 'DOES NOT HOLD'
