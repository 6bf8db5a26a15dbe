"""003 P1: the decomposition against independent computations, and rows that can fail."""

import copy
import json

import numpy as np
import pytest

from engine import run
from engine.errors import UserError
from experiments import bias_variance as bv


@pytest.fixture(scope='module')
def finished(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('bias_variance')
  results = run.run(bv, bv.get_config('quick'), str(workdir), command='test')
  return workdir, results


def _result(verdict, claim):
  return next(c.result for c in verdict.claims if c.claim == claim)


def _quick():
  """The quick config and its data: the programs the module's run compiles, compiled once."""
  c = bv.get_config('quick')
  return c, bv.generate(c.data)


def test_vmapped_fits_equal_numpy_polyfit():
  c, data = _quick()
  train, test = bv.poly_predictions(c, data)
  for i, d in enumerate(c.poly.degrees[:9]):
    for r in (0, 37):
      coef = np.polyfit(data.x, data.y[r], d)
      np.testing.assert_allclose(test[i, r], np.polyval(coef, data.x_test), atol=1e-9)
      np.testing.assert_allclose(train[i, r], np.polyval(coef, data.x), atol=1e-9)


def test_closed_form_equals_the_covariance_formula_in_another_basis():
  """Bias from a noiseless monomial fit, variance σ² x0ᵀ (XᵀX)⁻¹ x0; expected test error of
  a fixed-design fit is their sum plus σ² at every x0."""
  c, data = _quick()
  exact = bv.exact_poly(c, data)
  s2 = c.data.noise_sd**2
  for i, d in enumerate(c.poly.degrees[:9]):  # normal equations lose digits beyond 8
    X, X0 = np.vander(data.x, d + 1), np.vander(data.x_test, d + 1)
    bias = np.polyval(np.polyfit(data.x, data.f, d), data.x_test) - data.f_test
    var = s2 * np.einsum('tj,jk,tk->t', X0, np.linalg.inv(X.T @ X), X0)
    assert exact['bias2'][i] == pytest.approx(np.mean(bias**2), rel=1e-7, abs=1e-12)
    assert exact['variance'][i] == pytest.approx(np.mean(var), rel=1e-6)
    assert exact['test'][i] == pytest.approx(np.mean(bias**2 + var) + s2, rel=1e-6)


def test_curves_equal_a_direct_numpy_computation():
  """On arbitrary predictions: each curve by hand, and bias² + variance = mean (f - f̂)²."""
  rng = np.random.RandomState(0)
  C, R, n, T = 3, 7, 5, 4
  data = bv.Data(
    x=np.zeros(n),
    x_test=np.zeros(T),
    f=np.zeros(n),
    f_test=rng.normal(size=T),
    y=rng.normal(size=(R, n)),
    eps=rng.normal(size=(R, T)),
  )
  train, test = rng.normal(size=(C, R, n)), rng.normal(size=(C, R, T))
  boot = bv.get_config().bootstrap
  boot.resamples = 10
  got = bv.summarize(train, test, data, R, 0.3, boot)
  fbar = test.mean(axis=1)
  var = test.var(axis=1, ddof=1).mean(axis=-1)
  bias2 = ((data.f_test - fbar) ** 2).mean(axis=-1) - var / R
  np.testing.assert_allclose(got['curves']['variance'], var, rtol=1e-12)
  np.testing.assert_allclose(got['curves']['bias2'], bias2, rtol=1e-12)
  np.testing.assert_allclose(
    np.add(got['curves']['bias2'], got['curves']['variance']),
    ((data.f_test - test) ** 2).mean(axis=(1, 2)),
    rtol=1e-12,
  )
  np.testing.assert_allclose(
    got['curves']['test'], ((data.f_test + data.eps - test) ** 2).mean(axis=(1, 2)), rtol=1e-12
  )
  np.testing.assert_allclose(got['curves']['train'], ((train - data.y) ** 2).mean(axis=(1, 2)))
  np.testing.assert_allclose(got['curves']['noise'], np.full(C, (data.eps**2).mean()))
  gap = np.asarray(got['curves']['test']) - bias2 - var - 0.3**2
  np.testing.assert_allclose(got['decomposition']['gap'], gap, atol=1e-12)


def test_same_config_same_numbers():
  c, data = _quick()
  c.mlp.steps = (0, 10, 30)  # the same programs, fewer steps
  np.testing.assert_array_equal(data.y, bv.generate(c.data).y)
  first, second = bv.mlp_predictions(c, data), bv.mlp_predictions(c, data)
  np.testing.assert_array_equal(first[1], second[1])
  assert np.all(first[1][0] == 0.0) and np.any(first[1][-1] != 0.0)  # zero output init, trained
  s1 = bv.summarize(*first, data, c.mlp.datasets, c.data.noise_sd, c.bootstrap)
  s2 = bv.summarize(*second, data, c.mlp.datasets, c.data.noise_sd, c.bootstrap)
  assert s1 == s2


def test_quick_run_writes_the_report_and_matches_the_closed_form(finished):
  workdir, results = finished
  v = results['verdict']
  by_claim = {c['claim']: c['result'] for c in v['claims']}
  assert (
    by_claim['the Monte-Carlo curves equal the closed form of the fixed design (polynomial degree)']
    == 'HOLDS'
  )
  assert by_claim['the test MSE first declines, then rises: U-shaped (polynomial degree)'] == (
    'HOLDS'
  )
  assert by_claim['the training MSE declines at a constant rate (polynomial degree)'] == (
    'DOCUMENT WRONG'
  )
  poly = results['axes']['poly']
  np.testing.assert_allclose(poly['curves']['test'], poly['exact']['test'], atol=0.02)
  assert int(np.argmin(poly['curves']['test'])) in (3, 4, 5)
  report = (workdir / 'report.md').read_text()
  assert report.startswith('# bias_variance:') and '003 P1' in report
  assert (workdir / 'bias_variance.png').is_file()
  assert json.loads((workdir / 'status.json').read_text())['state'] == 'finished'


def _set_curve(results, axis, curve, values):
  """Replace a curve and its bootstrap (the curve plus the original bootstrap's deviations)."""
  a = results['axes'][axis]
  dev = np.asarray(a['boot'][curve]) - np.asarray(a['curves'][curve])
  a['curves'][curve] = list(values)
  a['boot'][curve] = (np.asarray(values) + dev).tolist()


def test_rows_turn_when_the_measurements_contradict_them(finished):
  _, results = finished
  bad = copy.deepcopy(results)
  a = bad['axes']['poly']
  C = len(a['values'])
  _set_curve(bad, 'poly', 'test', np.linspace(0.6, 0.1, C))  # falls all the way: no U
  _set_curve(bad, 'poly', 'variance', np.linspace(0.05, 0.01, C))
  a['decomposition']['gap'][2] = 10 * a['decomposition']['se'][2]
  v = bv.verdict(bad)
  assert _result(v, 'the test MSE first declines, then rises: U-shaped (polynomial degree)') == (
    'DOES NOT HOLD'
  )
  assert _result(v, 'the variance increases as complexity grows (polynomial degree)') == (
    'DOES NOT HOLD'
  )
  claim = 'test MSE = bias² + variance + σ² within the Monte-Carlo error (polynomial degree)'
  assert _result(v, claim) == 'DOES NOT HOLD'
  assert v.outcome == 'NOT REPRODUCED'


def test_constant_rates_and_oscillations_are_read_from_the_curve(finished):
  _, results = finished
  other = copy.deepcopy(results)
  C = len(other['axes']['poly']['values'])
  _set_curve(other, 'poly', 'train', np.linspace(0.5, 0.05, C))
  bumpy = np.linspace(0.5, 0.0, C)
  bumpy[C // 2] += 0.1
  _set_curve(other, 'poly', 'bias2', bumpy)
  v = bv.verdict(other)
  assert _result(v, 'the training MSE declines at a constant rate (polynomial degree)') == 'HOLDS'
  assert _result(v, 'the squared bias decreases without oscillations (polynomial degree)') == (
    'DOCUMENT WRONG'
  )
  parallel = copy.deepcopy(results)
  noise = np.asarray(parallel['axes']['poly']['curves']['noise'])
  _set_curve(parallel, 'poly', 'test', noise + 0.2)
  v = bv.verdict(parallel)
  assert _result(
    v, 'the irreducible error is parallel to the test MSE curve (polynomial degree)'
  ) == ('HOLDS')


def test_bad_config_is_refused():
  c = bv.get_config('quick')
  c.mlp.datasets = c.data.datasets + 1
  with pytest.raises(UserError, match=r'mlp\.datasets'):
    bv.validate(c)
  c = bv.get_config('quick')
  c.poly.degrees = (0, 1, 2, c.data.n_train)
  with pytest.raises(UserError, match='n_train'):
    bv.validate(c)
