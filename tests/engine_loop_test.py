"""The group loop: vmapped sweeps equal points trained alone; resume equals uninterrupted; NaN."""
import jax.numpy as jnp
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


@pytest.mark.parametrize('chunk,saves', [(1, [10, 16, 26]), (5, [5, 10, 15, 16, 21, 26])])
def test_resume_after_a_kill_mid_epoch_equals_an_uninterrupted_run(mnist_small, tmp_path,
                                                                  monkeypatch, chunk, saves):
  c = tiny_config()
  c.train.epochs = 3
  c.train.steps_per_call = chunk
  dev = _device(mnist_small, c)
  [group] = sweep.groups(c)
  straight = loop.train_group(group, c, dev, str(tmp_path / 'straight'), progress=False)

  c.checkpoint_every_secs = 0.0  # checkpoint at every progress sync (10 steps, or each call)
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
  assert saved == saves
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


@pytest.mark.parametrize('chunk,calls_before,position', [(1, 13, 'epoch 0, step 13'),
                                                          (5, 5, 'epoch 1, step 5')])
def test_ctrl_c_between_progress_syncs_saves_the_exact_position(mnist_small, tmp_path,
                                                                monkeypatch, chunk, calls_before,
                                                                position):
  """Interrupted after `calls_before` calls of the step program: one step each, or 5 (16/epoch)."""
  c = tiny_config()
  c.train.steps_per_call = chunk
  dev = _device(mnist_small, c)
  [group] = sweep.groups(c)
  straight = loop.train_group(group, c, dev, str(tmp_path / 'straight'), progress=False)
  real_programs = loop.programs
  calls = []

  def interrupting_programs(*args):
    init, step, steps, evaluate, perms, probe = real_programs(*args)

    def interrupt_after(fn):
      def call(*a):
        calls.append(1)
        if len(calls) == calls_before + 1:
          raise KeyboardInterrupt
        return fn(*a)
      return call
    return init, interrupt_after(step), interrupt_after(steps), evaluate, perms, probe

  monkeypatch.setattr(loop, 'programs', interrupting_programs)
  with pytest.raises(KeyboardInterrupt):
    loop.train_group(group, c, dev, str(tmp_path / 'b'), progress=False)
  monkeypatch.setattr(loop, 'programs', real_programs)
  logs = []
  resumed = loop.train_group(group, c, dev, str(tmp_path / 'b'), progress=False, log=logs.append)
  assert any(position in m for m in logs)
  _assert_same(_by_key(straight), _by_key(resumed), n_eval=256, exact=True)


def test_a_whole_epoch_per_call_equals_one_step_per_call(mnist_small, tmp_path):
  """The scanned epoch is the same computation as the step loop, only dispatched once."""
  c = tiny_config()
  dev = _device(mnist_small, c)
  [group] = sweep.groups(c)
  assert loop.steps_per_call(c, 'mlp', 16) == 16  # auto on CPU: the whole epoch for an MLP
  assert loop.steps_per_call(c, 'cnn', 16) == 1
  c.train.steps_per_call = 1
  stepped = loop.train_group(group, c, dev, str(tmp_path / 'a'), progress=False)
  c.train.steps_per_call = 16
  scanned = loop.train_group(group, c, dev, str(tmp_path / 'b'), progress=False)
  _assert_same(_by_key(stepped), _by_key(scanned), n_eval=256)


def test_a_probe_measures_each_model_at_each_epoch_end(mnist_small, tmp_path):
  def probe(model, state, images, labels):
    del model, images
    return {'first_bias_norm': jnp.linalg.norm(state.params['Dense_0']['bias']),
            'label_count': jnp.asarray(labels.shape[0], jnp.float32)}

  c = tiny_config()
  [group] = sweep.groups(c)
  records = loop.train_group(group, c, _device(mnist_small, c), str(tmp_path), progress=False,
                             probe=probe)
  for r in records:
    norms = r['history']['first_bias_norm']
    assert len(norms) == 2 and norms[0] > 0 and norms[1] != norms[0]
    assert r['history']['label_count'] == [1024.0, 1024.0]
