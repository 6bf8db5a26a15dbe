"""The group loop: vmapped sweeps equal points trained alone; resume equals uninterrupted; NaN."""
import numpy as np
import pytest

from conftest import tiny_config
from engine import checkpoints, loop, sweep


def _device(ds, c):
  return loop.put_on_device(ds, c.train.eval_train_size, c.train.eval_batch_size)


def _by_key(records):
  return {(r['label'], r['seed']): r for r in records}


def _assert_same(a, b, n_eval, exact=False):
  for key, ra in a.items():
    rb = b[key]
    for metric, va in ra['history'].items():
      va, vb = np.asarray(va, float), np.asarray(rb['history'][metric], float)
      if exact:
        np.testing.assert_array_equal(va, vb, err_msg=f'{key} {metric}')
      elif metric.endswith('loss'):
        np.testing.assert_allclose(va, vb, rtol=2e-4, atol=1e-5, err_msg=f'{key} {metric}')
      else:  # accuracies: at most one example may flip on float noise
        np.testing.assert_allclose(va, vb, atol=1.5 / n_eval, err_msg=f'{key} {metric}')


def test_vmapped_sweep_equals_each_point_trained_alone(mnist_small, tmp_path):
  c = tiny_config(**{'optimizer.learning_rate': (1e-3, 3e-3)})
  dev = _device(mnist_small, c)
  [group] = sweep.groups(c)
  assert len(group.points) * c.seeds == 8
  together = _by_key(loop.train_group(group, c, dev, str(tmp_path / 'all'), progress=False))
  alone = {}
  for p in sweep.points(c):
    for s in range(c.seeds):
      single = sweep.apply_point(c, {})
      single.sweep = {}
      single.seeds, single.seed = 1, c.seed + s
      g = sweep.Group(0, (p,), (c.seed + s,), sweep.apply_point(single, p))
      [rec] = loop.train_group(g, single, dev, str(tmp_path / f'{sweep.label(p)}-{s}'),
                               progress=False)
      alone[(rec['label'], rec['seed'])] = rec
  assert set(alone) == set(together)
  _assert_same(together, alone, n_eval=256)
  # The points really differ: the sweep is not trivially equal.
  accs = {k: r['final']['test_accuracy'] for k, r in together.items()}
  assert len(set(accs.values())) > 2


class _Killed(Exception):
  pass


def test_resume_after_a_kill_mid_epoch_equals_an_uninterrupted_run(mnist_small, tmp_path,
                                                                  monkeypatch):
  c = tiny_config()
  c.train.epochs = 3
  dev = _device(mnist_small, c)
  [group] = sweep.groups(c)
  straight = loop.train_group(group, c, dev, str(tmp_path / 'straight'), progress=False)

  c.checkpoint_every_secs = 0.0  # checkpoint at every progress sync (every 10 steps)
  real_save = checkpoints.save
  saved = []

  def save_then_die(mngr, step, tree):
    real_save(mngr, step, tree)
    saved.append(step)
    if step == 26:  # inside the second epoch (16 steps per epoch)
      raise _Killed()

  monkeypatch.setattr(checkpoints, 'save', save_then_die)
  with pytest.raises(_Killed):
    loop.train_group(group, c, dev, str(tmp_path / 'killed'), progress=False)
  monkeypatch.setattr(checkpoints, 'save', real_save)
  assert saved == [10, 16, 26]
  logs = []
  resumed = loop.train_group(group, c, dev, str(tmp_path / 'killed'), progress=False,
                             log=logs.append)
  assert any('resuming from checkpoint at epoch 1, step 10' in m for m in logs)
  _assert_same(_by_key(straight), _by_key(resumed), n_eval=256, exact=True)


def test_a_diverging_point_is_recorded_and_the_others_go_on(mnist_small, tmp_path):
  c = tiny_config(**{'optimizer.learning_rate': (0.1, 1e12)})
  c.optimizer.name = 'sgd'
  c.sweep.model.dropout_rate = (0.0,)
  c.seeds = 1
  [group] = sweep.groups(c)
  records = loop.train_group(group, c, _device(mnist_small, c), str(tmp_path), progress=False)
  by_lr = {r['point']['optimizer.learning_rate']: r for r in records}
  assert by_lr[1e12]['diverged'] and by_lr[1e12]['diverged_epoch'] == 1
  assert not by_lr[0.1]['diverged']
  assert by_lr[0.1]['final']['test_accuracy'] > 0.5


def test_ctrl_c_between_progress_syncs_saves_the_exact_position(mnist_small, tmp_path,
                                                                monkeypatch):
  c = tiny_config()
  dev = _device(mnist_small, c)
  [group] = sweep.groups(c)
  straight = loop.train_group(group, c, dev, str(tmp_path / 'straight'), progress=False)
  real_programs = loop.programs
  calls = []

  def interrupting_programs(*args):
    init, step, evaluate, perms = real_programs(*args)

    def step_or_interrupt(*a):
      calls.append(1)
      if len(calls) == 14:  # step index 13: not a multiple of the 10-step progress sync
        raise KeyboardInterrupt
      return step(*a)
    return init, step_or_interrupt, evaluate, perms

  monkeypatch.setattr(loop, 'programs', interrupting_programs)
  with pytest.raises(KeyboardInterrupt):
    loop.train_group(group, c, dev, str(tmp_path / 'b'), progress=False)
  monkeypatch.setattr(loop, 'programs', real_programs)
  logs = []
  resumed = loop.train_group(group, c, dev, str(tmp_path / 'b'), progress=False, log=logs.append)
  assert any('epoch 0, step 13' in m for m in logs)
  _assert_same(_by_key(straight), _by_key(resumed), n_eval=256, exact=True)
