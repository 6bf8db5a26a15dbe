"""The answer keys: jax.grad against independent closed forms, the documents' answers, the rows."""

import copy
import json
import math

import numpy as np
import pytest

import experiments
from engine import run
from experiments import answer_keys


def _sigmoid(x):
  return 1 / (1 + np.exp(-np.asarray(x, np.float64)))


@pytest.fixture(scope='module')
def finished(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('answer_keys')
  config = answer_keys.get_config('quick')
  config.mini.update(dict(n_train=300, n_test=300, steps=60, seeds=2))
  results = run.run(answer_keys, config, str(workdir), command='test')
  return workdir, results


def _by_claim(claims):
  return {(c['id'], c['claim']): c['result'] for c in claims}


def _result(verdict, claim):
  return next(c.result for c in verdict.claims if c.claim == claim)


def test_both_new_findings_are_registered():
  assert {'answer_keys', 'loocv'} <= set(experiments.NAMES)
  assert experiments.get('answer_keys').variants == ('quick',)
  assert experiments.get('loocv').variants == ('quick',)


def test_cross_entropy_and_the_quadratic_form_against_closed_forms(finished):
  _, r = finished
  q2 = r['q2']
  assert q2['h'] == pytest.approx(-math.log(0.1)) and q2['h_log10'] == pytest.approx(1.0)
  assert q2['h_better'] == pytest.approx(-math.log(0.6))
  assert q2['h_better_log10'] == pytest.approx(-math.log10(0.6))
  assert q2['h_reversed'] == math.inf and q2['zero_at_true_class'] == math.inf
  assert q2['zero_at_wrong_class'] == pytest.approx(-math.log(0.6))
  x32 = np.float32(q2['sigmoid_exactly_one_from'])
  one = np.float32(1)
  assert one / (one + np.exp(-x32)) == 1.0  # 1 + e^-x rounds to 1 in float32
  assert one / (one + np.exp(-(x32 - np.float32(0.5)))) < 1.0
  # The quadratic form by least squares on f's values, without any derivative.
  pts = np.random.RandomState(1).normal(0, 2, (20, 2))
  f = (1 - pts[:, 0]) ** 2 + 100 * (pts[:, 1] - pts[:, 0] ** 2)
  x1, x2 = pts.T
  design = np.stack([x1 * x1, 2 * x1 * x2, x2 * x2, x1, x2, np.ones_like(x1)], 1)
  a11, a12, a22, b1, b2, c = np.linalg.lstsq(design, f, rcond=None)[0]
  np.testing.assert_allclose(r['q6']['A'], [[a11, a12], [a12, a22]], atol=1e-8)
  np.testing.assert_allclose(r['q6']['B'], [b1, b2], atol=1e-8)
  assert r['q6']['c'] == pytest.approx(c) and r['q6']['rosenbrock_residual'] > 1


def test_every_gradient_against_its_closed_form(finished):
  _, r = finished
  q7 = r['q7']
  x, y, W, b = (np.asarray(q7[k]) for k in ('x', 'y', 'W', 'b'))
  a = _sigmoid(W @ x + b)
  np.testing.assert_allclose(q7['grad_W'], (a - y) @ x.T, rtol=1e-10)
  np.testing.assert_allclose(q7['grad_z'], a - y, rtol=1e-10)
  s = np.asarray(r['config']['sa7']['inputs'])
  np.testing.assert_allclose(r['sa7']['local_derivative'], s * (1 - s), atol=1e-12)
  np.testing.assert_allclose(r['sa7']['backward'], s * 0.25, atol=1e-12)  # sigma'(0) = 1/4
  theta = np.asarray(r['config']['la1']['theta'])
  p = np.exp(theta) / np.exp(theta).sum()
  np.testing.assert_allclose(r['la1']['grad'], p - np.eye(len(p))[1], atol=1e-12)
  q11 = r['q11']
  df_dw2 = 0.25 * _sigmoid(1.0)  # sigma'(0) sigma(x1 + w1)
  assert q11['df_dw'][1] == pytest.approx(df_dw2) and df_dw2 == pytest.approx(0.1828, abs=1e-4)
  assert q11['w2'] == pytest.approx(0.5 * (5 - 0.5) * df_dw2)  # w2 - lr dL/dw2, L = (y - f)^2 / 2
  assert q11['w2_other_loss'] == pytest.approx(2 * q11['w2'])
  grid = np.linspace(-6, 6, 121)
  gap = np.abs(_sigmoid(grid) * _sigmoid(1 - grid) - _sigmoid(grid) * (1 - _sigmoid(grid)))
  assert r['q13']['max_gap_answer'] == pytest.approx(gap.max())


def test_knn_logistic_and_cosine_against_numpy(finished):
  _, r = finished
  X = np.asarray(r['config']['p2']['X'], np.float64)
  np.testing.assert_allclose(r['p2']['distances'], np.sqrt((X**2).sum(1)))
  assert r['p2']['predictions']['1']['neighbours'] == [5]
  assert r['p2']['predictions']['3']['neighbours'] == [5, 6, 2]
  assert r['p3']['p'] == pytest.approx(_sigmoid(-6 + 0.05 * 40 + 3.5))
  assert _sigmoid(-6 + 0.05 * r['p3']['hours'] + 3.5) == pytest.approx(0.5)
  img = np.array([-1, 1, -1, 1])
  for name, vec in zip('ABCD', ([1, 0, 0, 0], [0, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 1])):
    expected = img @ vec / np.linalg.norm(img) / np.linalg.norm(vec)
    assert r['p5']['X']['similarities']['ABCD'.index(name)] == pytest.approx(expected)


def test_the_literal_p9_loss_never_reaches_the_logged_values():
  onehot = np.eye(10)[0]
  softplus = lambda z: np.log1p(np.exp(z))
  bce = lambda p: np.mean(onehot * softplus(-p) + (1 - onehot) * softplus(p))
  floor = bce(onehot)
  probs = np.random.RandomState(0).dirichlet(np.ones(10), 2000)
  assert min(bce(p) for p in probs) >= floor > 0.6
  assert floor == pytest.approx(0.6552, abs=1e-4)


def test_early_stopping_follows_keras():
  assert answer_keys.early_stop_epoch([0.5, 0.6, 0.6, 0.6], patience=2) == 4
  assert answer_keys.early_stop_epoch([0.5, 0.6, 0.7, 0.8], patience=2) is None
  assert answer_keys.early_stop_epoch([0.9, 0.5, 0.5, 0.95, 0.5], patience=3) is None


def test_the_miniatures_show_the_p8_defects(finished):
  _, r = finished
  stale = [run['head_change'] for run in r['mini']['p8.head128_stale']]
  trained = [run['head_change'] for run in r['mini']['p8.head128']]
  assert max(stale) < 1e-4 < 0.1 < min(trained)
  assert min(run['impossible_at_init'] for run in r['mini']['p8.head128']) > 0.5
  assert max(run['impossible_at_init'] for run in r['mini']['p8.head10']) == 0


def test_the_rows_of_the_run(finished):
  workdir, r = finished
  rows = _by_claim(r['verdict']['claims'])
  wrong = [
    ('000 Q2', 'H(y, y_hat) for y_hat = (0.1, 0.4, 0.5), natural log'),
    ('000 Q2', "H(y, y_hat') for y_hat' = (0.6, 0.3, 0.1), natural log"),
    ('000 Q7', 'dL/dW of the logistic regression'),
    ('001 SA7', 'the snippet is a sigmoid backward pass (upstream gradient in)'),
    ('003 P3', 'P(A | 40 h, GPA 3.5) with beta = (-6.0, 0.05, 1.0)'),
    ('003 P3', 'hours for a 50 % chance with beta = (-6.0, 0.05, 1.0)'),
    ('003 P8', 'the replaced head is trained'),
    ('003 P9', 'approach 1 uses VGG19 as a (fixed) feature extractor'),
    ('004 Q1.1', 'df/dw2 at w = (0, 0), x = (1, 0)'),
    ('004 Q1.1', "the answer's step lowers the loss"),
    ('004 Q1.3', "sigma'(x) = sigma(x) sigma(1 - x)"),
  ]
  holds = [
    ('000 Q2', "the answer's 1 is the log10 value"),
    ('000 Q6', 'A, B, c of f = (1 - x1)^2 + 100 (x2 - x1^2) as printed'),
    ('001 LA1', 'dCE/dtheta = y_hat - y'),
    ('003 P2', 'K = 3 prediction'),
    ('003 P5', 'Nearest-1..4 pseudo-labels of image Y'),
    ('003 P9', 'VGG19 convolutional parameters'),
  ]
  assert [rows[k] for k in wrong] == ['DOCUMENT WRONG'] * len(wrong)
  assert [rows[k] for k in holds] == ['HOLDS'] * len(holds)
  assert rows[('001 LA2', 'forward and backward pass of the given network')] == 'NOT APPLICABLE'
  assert r['verdict']['outcome'] == 'REPRODUCED'
  report = (workdir / 'report.md').read_text()
  assert report.startswith('# answer_keys: REPRODUCED') and '| 004 Q1.1 |' in report
  assert json.loads((workdir / 'status.json').read_text())['state'] == 'finished'


def test_a_right_answer_holds_and_a_wrong_one_is_document_wrong(finished):
  _, r = finished
  changed = copy.deepcopy(r)
  changed['config']['q11']['document']['df_dw2'] = 0.25 * float(_sigmoid(1.0))
  changed['config']['p5']['document']['labels_X'] = ['D', 'DA', 'DAB', 'DABC']
  v = answer_keys.verdict(changed)
  assert _result(v, 'df/dw2 at w = (0, 0), x = (1, 0)') == 'HOLDS'
  assert _result(v, 'Nearest-1..4 pseudo-labels of image X') == 'DOCUMENT WRONG'


def test_a_derivative_off_its_finite_difference_does_not_hold(finished):
  _, r = finished
  bad = copy.deepcopy(r)
  bad['q7']['fd_gap'] = 1e-3
  v = answer_keys.verdict(bad)
  claim = 'every jax.grad derivative agrees with a central finite difference (float64)'
  assert _result(v, claim) == 'DOES NOT HOLD'
  assert v.outcome == 'NOT REPRODUCED'
