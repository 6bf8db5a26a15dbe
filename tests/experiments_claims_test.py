"""The claims finding: its quick run end to end, each measurement against an independent
expectation, determinism, and rows that turn when the measurements contradict the document."""

import copy
import json

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from engine import run
from engine.errors import UserError
from experiments import claims

IDS = (
  '001 T/F 2',
  '001 T/F 4',
  '001 T/F 5',
  '001 T/F 6',
  '001 T/F 7',
  '001 T/F 8',
  '001 T/F 9',
  '001 T/F 10',
  '000 Q1(a)',
  '000 Q1(b)',
  '000 Q3',
  '000 Q4',
)


@pytest.fixture(scope='module')
def finished(tmp_path_factory, shared_datasets):
  workdir = tmp_path_factory.mktemp('claims')
  config = claims.get_config('quick')
  config.dataset.data_dir = shared_datasets
  results = run.run(claims, config, str(workdir), progress=False, command='test')
  return workdir, results


@pytest.fixture()
def cfg():
  return ml_collections.ConfigDict(claims.get_config()['verdict'].to_dict())


def _result(rows, claim_start):
  return next(c.result for c in rows if c.claim.startswith(claim_start))


def test_quick_runs_end_to_end(finished):
  workdir, results = finished
  assert not results['dataset']['standin']
  ids = {c['id'] for c in results['verdict']['claims']}
  assert set(IDS) <= ids
  report = (workdir / 'report.md').read_text()
  assert report.startswith('# claims: ') and '001 T/F 7' in report and 'definitional' in report
  assert (workdir / 'claims.png').is_file()
  assert json.loads((workdir / 'status.json').read_text())['state'] == 'finished'
  saved = json.loads((workdir / 'results.json').read_text())
  assert saved['verdict']['outcome'] == results['verdict']['outcome']


def test_gd_on_the_quadratic_is_the_closed_form():
  """x_t = (I - lr A)^t x0 for plain gradient descent on 0.5 x^T A x."""
  q, lam, x0 = claims.random_quadratic(jax.random.key(3), 4, 50.0)
  a = np.asarray((q * lam) @ q.T, np.float64)
  lr = 0.5 / 50.0
  xs = np.asarray(claims.sgd_on_quadratic(jnp.asarray(a, jnp.float32), x0, lr, 0.0, 30))
  step = np.eye(4) - lr * a
  for t in (0, 1, 7, 30):
    expected = np.linalg.matrix_power(step, t) @ np.asarray(x0, np.float64)
    np.testing.assert_allclose(xs[t], expected, rtol=1e-4, atol=1e-5)


def test_momentum_is_the_analytic_heavy_ball_iteration():
  """optax's momentum SGD equals heavy ball, [x_t+1; x_t] = [[(1+b)I - lr A, -bI], [I, 0]]^t."""
  q, lam, x0 = claims.random_quadratic(jax.random.key(4), 3, 20.0)
  a = np.asarray((q * lam) @ q.T, np.float64)
  lr, beta, n = 0.5 / 20.0, 0.9, 60
  xs = np.asarray(claims.sgd_on_quadratic(jnp.asarray(a, jnp.float32), x0, lr, beta, n))
  eye = np.eye(3)
  companion = np.block([[(1 + beta) * eye - lr * a, -beta * eye], [eye, 0 * eye]])
  z0 = np.concatenate([np.asarray(x0, np.float64)] * 2)
  for t in (1, 2, 10, 60):
    expected = (np.linalg.matrix_power(companion, t) @ z0)[:3]
    np.testing.assert_allclose(xs[t], expected, rtol=1e-3, atol=1e-4)
  # Underdamped (beta > (1 - sqrt(lr lambda))^2) in every direction: it passes the minimum.
  coords = xs @ np.asarray(q)
  assert np.all(claims.overshoot(coords) > 0.05)
  gd = np.asarray(claims.sgd_on_quadratic(jnp.asarray(a, jnp.float32), x0, lr, 0.0, n))
  assert np.all(claims.overshoot(gd @ np.asarray(q)) < 1e-6)  # float32 rounding only


def test_quadratic_results_are_the_closed_form(finished):
  _, results = finished
  q = results['quadratic']
  steps = results['config']['quadratic']['steps']
  for s in q['seeds']:
    lam = np.asarray(s['eigenvalues'])
    gentle = abs(1 - q['learning_rate'] * lam[0]) ** steps
    assert s['gd_gentle'][-1] == pytest.approx(gentle, rel=1e-3)
    assert s['gd_steep'][-1] < 1e-5  # closed form 0.5^steps; float32 rounding above it
    assert max(s['overshoot'][0]) < 1e-6


def test_gradient_by_layer_equals_a_numpy_backprop():
  """jax.grad's per-layer RMS against backprop written out by hand for a sigmoid net."""
  rng = np.random.default_rng(0)
  x = rng.normal(size=(5, 4)).astype(np.float32)
  y = np.array([0, 1, 2, 1, 0])
  widths = (4, 6, 6, 3)
  params = claims.init_mlp(jax.random.key(0), widths, 'glorot_normal')
  got = np.asarray(
    claims.layer_gradient_rms(params, x, y, list(claims.ACTIVATIONS).index('sigmoid'))
  )
  w = [np.asarray(p['w'], np.float64) for p in params]
  hs, h = [x.astype(np.float64)], x.astype(np.float64)
  for wi in w[:-1]:
    h = 1 / (1 + np.exp(-(h @ wi)))
    hs.append(h)
  logits = h @ w[-1]
  p = np.exp(logits - logits.max(1, keepdims=True))
  p /= p.sum(1, keepdims=True)
  delta = (p - np.eye(3)[y]) / len(y)
  grads = [None] * 3
  for i in (2, 1, 0):
    grads[i] = hs[i].T @ delta
    if i:
      delta = (delta @ w[i].T) * hs[i] * (1 - hs[i])
  np.testing.assert_allclose(got, [np.sqrt(np.mean(g**2)) for g in grads], rtol=1e-4)


def test_trainer_metrics_read_only_each_models_first_n_rows():
  """With a zero rate the nets stay at init: their accuracies equal a numpy forward pass."""
  rng = np.random.default_rng(1)
  inputs = rng.normal(size=(40, 3)).astype(np.float32)
  labels = rng.integers(0, 2, 40)
  rows = np.stack([rng.permutation(40), rng.permutation(40)])
  n = [10, 40]
  keys = [jax.random.key(0), jax.random.key(1)]
  block = claims.Block(list(rows), [labels[r] for r in rows], n, keys, [{}, {}])
  spec = claims.Spec(widths=(3, 5, 2), batch_size=4, steps_per_epoch=3, eval_size=40)
  (t,) = claims._train_blocks(spec, [block], jnp.asarray(inputs), inputs, labels, 0.0)
  for i in range(2):
    params = claims.init_mlp(jax.random.split(keys[i])[0], spec.widths, spec.init)
    r = rows[i][: n[i]]
    pred = np.argmax(np.asarray(claims.apply_mlp(params, inputs[r], 'relu')), -1)
    assert t.train_accuracy[i] == pytest.approx(np.mean(pred == labels[r]))
    test_pred = np.argmax(np.asarray(claims.apply_mlp(params, inputs, 'relu')), -1)
    assert t.test_accuracy[i] == pytest.approx(np.mean(test_pred == labels))
    assert np.ptp(t.loss_curve[i]) == 0.0


def test_vote_and_disagreement():
  probs = np.array(
    [[[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]], [[0.4, 0.6], [0.3, 0.7], [0.9, 0.1]]], np.float32
  )
  assert claims.vote_accuracy(probs, np.array([0, 1, 1])) == pytest.approx(2 / 3)
  assert claims.disagreement(probs) == pytest.approx(1 / 3)


def test_measurements_meet_their_expectations(finished):
  _, results = finished
  b = results['binary']
  acc = np.asarray(b['test_accuracy']).mean(0)
  clean, flipped = acc[b['setups'].index('clean')], acc[b['setups'].index('flipped_labels')]
  assert abs(clean + flipped - 1) < 0.1  # the flipped net learns the mirrored boundary
  linear = np.asarray(results['more_data']['linear']['train_loss'])[:, -1]
  assert np.all(linear > 0.6)  # no line separates XOR: about log 2
  sig = claims.gradient_ratios(results['gradients'])['sigmoid']
  assert np.all(np.asarray(sig[str(max(results['gradients']['depths']))]) < 0.1)


def test_runs_are_deterministic(finished):
  _, results = finished
  config = claims.get_config('quick')
  assert claims.run_binary(config) == results['binary']
  assert claims.run_quadratic(config) == results['quadratic']


def test_rows_turn_when_measurements_contradict_the_document(cfg):
  reg = {'l2': [0.0, 0.01, 0.1], 'train_accuracy': [[0.8, 0.9, 0.95]] * 3}
  reg['test_accuracy'] = reg['train_accuracy']
  assert _result(claims.regularization_rows(reg, cfg), 'removing') == 'HOLDS'
  reg['train_accuracy'] = [[0.95, 0.9, 0.8]] * 3
  assert _result(claims.regularization_rows(reg, cfg), 'removing') == 'DOCUMENT WRONG'

  curves = [[[2.0, 1.0, 1.5], [2.0, 1.0, 0.5], [2.0, None, None]]] * 3
  lr = {'rates': [0.001, 0.1, 10.0], 'loss_curve': curves}
  assert _result(claims.learning_rate_rows(lr, cfg), 'the loss rising') == 'DOCUMENT WRONG'
  lr['loss_curve'] = [[[2.0, 1.5, 1.2], [2.0, 1.0, 0.5], [2.0, None, None]]] * 3
  rows = claims.learning_rate_rows(lr, cfg)
  assert _result(rows, 'the loss rising') == 'HOLDS'
  assert _result(rows, 'the culprit') == 'HOLDS'

  seeds = [
    {
      'gd_gentle': [1.0, 0.9],
      'gd_steep': [1.0, 0.0],
      'initial_gradient_share_steep': 0.9,
      'overshoot': [[0.0], [0.0]],
    }
  ] * 3
  quad = {'momentum': [0.0, 0.9], 'seeds': seeds}
  rows = claims.quadratic_rows(quad, cfg, 0.9)
  assert _result(rows, 'SGD with momentum') == 'DOCUMENT WRONG'
  assert _result(rows, 'large gradient') == 'HOLDS'
  seeds[0]['gd_gentle'] = [1.0, 0.01]
  assert _result(claims.quadratic_rows(quad, cfg, 0.9), 'large gradient') == 'DOCUMENT WRONG'

  binary = {
    'setups': ['clean', 'overfit', 'random_labels', 'flipped_labels'],
    'train_accuracy': [[1.0] * 4] * 4,
    'test_accuracy': [[0.8, 0.2 + 0.01 * s, 0.5, 0.2] for s in range(4)],
    'untrained_accuracy': [0.5] * 4,
  }
  assert _result(claims.binary_rows(binary, cfg), 'a 20%') == 'HOLDS'

  more = {
    'sizes': [50, 50000],
    'fix_hidden': 16,
    'linear': {'train_loss': [[0.7, 0.2]] * 3, 'test_loss': [[0.7, 0.2]] * 3},
    'hidden': {'train_loss': [[0.01, 0.01]] * 3},
  }
  assert _result(claims.more_data_rows(more, cfg), 'training on') == 'HOLDS'

  grads = {'depths': [5], 'dead_bias': -1.0, 'rms': {}}
  for name, first in (('relu', 1e-4), ('sigmoid', 1e-4), ('tanh', 1.0), ('relu_dead_bias', 0.0)):
    grads['rms'][name] = {'5': [[first, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]] * 3}
  assert _result(claims.gradient_rows(grads, cfg), 'ReLU can lead') == 'DOCUMENT WRONG'


def test_a_contradicting_run_is_not_reproduced(finished):
  _, results = finished
  bad = copy.deepcopy(results)
  for s in bad['quadratic']['seeds']:
    s['overshoot'] = [[0.0] * len(s['eigenvalues'])] * len(bad['quadratic']['momentum'])
  v = claims.verdict(bad)
  assert _result(v.claims, 'SGD with momentum') == 'DOCUMENT WRONG'
  assert v.outcome == 'NOT REPRODUCED'


def test_too_few_seeds_is_inconclusive(finished):
  _, results = finished
  few = copy.deepcopy(results)
  few['seeds'] = 2
  v = claims.verdict(few)
  assert v.outcome == 'INCONCLUSIVE'
  assert _result(v.claims, 'SGD with momentum') in ('HOLDS', 'DOCUMENT WRONG')  # no training


def test_a_config_that_cannot_run_is_refused():
  config = claims.get_config('quick')
  config.data_size.sizes = (100, 100000)
  with pytest.raises(UserError, match='train_subset'):
    claims.validate(config)
