"""Early stopping: GL and patience on known curves; the loop keeps and evaluates best weights."""

import ml_collections
import numpy as np
import pytest
from conftest import tiny_config, train_group

from engine import checkpoints, loop, sweep
from engine import early_stopping as es
from engine.errors import UserError

CURVE = np.array([1.0, 0.8, 0.9, 0.7, 0.75, 0.8, 1.2, 0.6])


def test_generalization_loss_is_prechelts_percentage():
  gl = es.generalization_loss(CURVE)
  np.testing.assert_allclose(
    gl, [0, 0, 12.5, 0, 100 * (0.75 / 0.7 - 1), 100 * (0.8 / 0.7 - 1), 100 * (1.2 / 0.7 - 1), 0]
  )
  np.testing.assert_array_equal(es.generalization_loss([0.0, 0.0, 0.1]), [0, 0, np.inf])


@pytest.mark.parametrize(
  'rule,kw,stop,best',
  [
    ('gl', dict(threshold=10.0), 3, 2),  # 12.5 > 10 at epoch 3; best up to it: epoch 2
    ('gl', dict(threshold=13.0), 6, 4),  # 14.3 at epoch 6
    ('gl', dict(threshold=71.0), 7, 4),
    ('gl', dict(threshold=72.0), 0, 8),  # never: the best of the whole run
    ('patience', dict(patience=0), 3, 2),  # Keras: the first epoch without a new best
    ('patience', dict(patience=1), 3, 2),
    ('patience', dict(patience=2), 6, 4),
    ('patience', dict(patience=4), 0, 8),
  ],
)
def test_stop_and_best_epochs(rule, kw, stop, best):
  stops = es.stop_epochs(CURVE, rule=rule, **kw)
  assert int(stops) == stop
  assert int(es.best_epochs(CURVE, stops)) == best


def test_rules_apply_per_model_along_epochs():
  curves = np.stack([CURVE, np.linspace(1, 0.1, len(CURVE))], axis=1)
  stops = es.stop_epochs(curves, rule='gl', threshold=10.0)
  np.testing.assert_array_equal(stops, [3, 0])
  np.testing.assert_array_equal(es.best_epochs(curves, stops), [2, 8])
  assert es.stop_epochs(curves[:0], rule='gl').shape == (2,)


def test_val_error_metric_is_one_minus_accuracy():
  hist = {'val_accuracy': np.array([0.5, 0.9]), 'val_loss': np.array([2.0, 1.0])}
  np.testing.assert_allclose(es.validation_errors(hist, 'val_error'), [0.5, 0.1])
  np.testing.assert_allclose(es.validation_errors(hist, 'val_loss'), [2.0, 1.0])


@pytest.mark.parametrize(
  'cfg,message',
  [
    (dict(rule='prechelt'), 'is not a rule'),
    (dict(rule='gl', metric='test_loss'), 'is not a validation error'),
    (dict(rule='gl', threshold=-1.0), 'at least 0'),
    (dict(rule='gl', thresold=5.0), 'Unknown early_stopping key'),
  ],
)
def test_bad_configs_are_user_errors(cfg, message):
  with pytest.raises(UserError, match=message):
    es.from_config(ml_collections.ConfigDict(cfg))


def test_no_rule_means_no_early_stopping():
  assert es.from_config(None) is None
  assert es.from_config(ml_collections.ConfigDict(dict(rule='none'))) is None


def _config(**stopping):
  c = tiny_config(**{'optimizer.learning_rate': (1e-2, 3e-2)})
  c.sweep.model.dropout_rate = (0.0,)
  c.train.epochs = 8
  c.early_stopping = ml_collections.ConfigDict(
    dict(rule='gl', metric='val_loss', threshold=0.0, patience=0, keep_best=True, stop_group=False)
  )
  c.early_stopping.update(stopping)
  return c


def _train(c, ds, path, **kw):
  [group] = sweep.groups(c)
  dev = loop.put_on_device(ds, c.train.eval_train_size, c.train.eval_batch_size)
  return train_group(group, c, dev, str(path), progress=False, **kw)


@pytest.fixture(scope='module')
def full(mnist_small, tmp_path_factory):
  """Four models trained 8 epochs to the end, each stopping (by GL > 0) somewhere."""
  return _train(_config(), mnist_small, tmp_path_factory.mktemp('full'))


def test_the_loop_keeps_and_evaluates_each_models_best_weights(full):
  assert len(full) == 4
  for r in full:
    h, e = r['history'], r['early_stopping']
    (stops,) = es.stop_epochs(np.array(h['val_loss'])[:, None], rule='gl', threshold=0.0)
    assert e['stop_epoch'] == (int(stops) or None)
    assert e['best_epoch'] == int(np.argmin(h['val_loss'][: e['stop_epoch']])) + 1
    for k in ('val_loss', 'test_loss', 'test_accuracy', 'train_accuracy'):
      assert e['best'][k] == pytest.approx(h[k][e['best_epoch'] - 1], rel=1e-6), k
  # The test is not vacuous: some model stopped, and its kept weights are not its last ones.
  assert any(r['early_stopping']['best_epoch'] < 8 for r in full)


def test_stop_group_ends_training_once_every_model_stopped(full, mnist_small, tmp_path):
  stops = [r['early_stopping']['stop_epoch'] for r in full]
  assert all(stops), f'every model must stop for this test; stops {stops}'
  short = _train(_config(stop_group=True), mnist_small, tmp_path / 'short')
  for a, b in zip(full, short):
    n = len(b['history']['val_loss'])
    assert n == max(stops) < 8
    assert b['history']['val_loss'] == a['history']['val_loss'][:n]
    assert dict(b['early_stopping'], stop_group=False) == a['early_stopping']
  again = _train(_config(stop_group=True), mnist_small, tmp_path / 'short')  # finished: no epoch
  assert [r['early_stopping'] for r in again] == [r['early_stopping'] for r in short]


class _Killed(Exception):
  pass


def test_resume_restores_the_kept_weights(full, mnist_small, tmp_path, monkeypatch):
  c = _config()
  c.checkpoint_every_secs = 0.0
  real_save = checkpoints.save

  def save_then_die(mngr, step, tree):
    real_save(mngr, step, tree)
    if step == 17 * 3:  # the save after epoch 3 (ids count 16 steps + 1 per epoch)
      raise _Killed()

  monkeypatch.setattr(checkpoints, 'save', save_then_die)
  with pytest.raises(_Killed):
    _train(c, mnist_small, tmp_path / 'b')
  monkeypatch.setattr(checkpoints, 'save', real_save)
  resumed = _train(c, mnist_small, tmp_path / 'b')
  assert [r['early_stopping'] for r in resumed] == [r['early_stopping'] for r in full]
