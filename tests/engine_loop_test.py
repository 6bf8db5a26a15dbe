"""The group loop: vmapped sweeps equal points trained alone; resume equals uninterrupted; NaN."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import tiny_config, train_group

from engine import checkpoints, loop, plan, sweep


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
  together = _by_key(train_group(group, c, dev, str(tmp_path / 'all'), progress=False))
  alone = {}
  for p in sweep.points(c):
    for s in range(c.seeds):
      single = sweep.apply_point(c, {})
      single.sweep = {}
      single.seeds, single.seed = 1, c.seed + s
      g = sweep.Group(0, (p,), (c.seed + s,), sweep.apply_point(single, p))
      [rec] = train_group(g, single, dev, str(tmp_path / f'{sweep.label(p)}-{s}'), progress=False)
      alone[(rec['label'], rec['seed'])] = rec
  assert set(alone) == set(together)
  _assert_same(together, alone, n_eval=256)
  # The points really differ: the sweep is not trivially equal.
  accs = {k: r['final']['test_accuracy'] for k, r in together.items()}
  assert len(set(accs.values())) > 2


class _Killed(Exception):
  pass


# Checkpoint ids count 17 positions per epoch of 16 steps: (epoch 1, step 10) is 1 * 17 + 10.
@pytest.mark.parametrize('chunk,saves', [(1, [10, 17, 27]), (5, [5, 10, 15, 17, 22, 27])])
def test_resume_after_a_kill_mid_epoch_equals_an_uninterrupted_run(
  mnist_small, tmp_path, monkeypatch, chunk, saves
):
  c = tiny_config()
  c.train.epochs = 3
  c.train.steps_per_call = chunk
  dev = _device(mnist_small, c)
  [group] = sweep.groups(c)
  straight = train_group(group, c, dev, str(tmp_path / 'straight'), progress=False)

  c.checkpoint_every_secs = 0.0  # checkpoint at every progress sync (10 steps, or each call)
  real_save = checkpoints.save
  saved = []

  def save_then_die(mngr, step, tree):
    real_save(mngr, step, tree)
    saved.append(step)
    if step == 27:  # inside the second epoch (16 steps per epoch)
      raise _Killed()

  monkeypatch.setattr(checkpoints, 'save', save_then_die)
  with pytest.raises(_Killed):
    train_group(group, c, dev, str(tmp_path / 'killed'), progress=False)
  monkeypatch.setattr(checkpoints, 'save', real_save)
  assert saved == saves
  logs = []
  resumed = train_group(group, c, dev, str(tmp_path / 'killed'), progress=False, log=logs.append)
  assert any('resuming from checkpoint at epoch 1, step 10' in m for m in logs)
  _assert_same(_by_key(straight), _by_key(resumed), n_eval=256, exact=True)


def test_a_diverging_point_is_recorded_and_the_others_go_on(mnist_small, tmp_path):
  c = tiny_config(**{'optimizer.learning_rate': (0.1, 1e12)})
  c.optimizer.name = 'sgd'
  c.sweep.model.dropout_rate = (0.0,)
  c.seeds = 1
  [group] = sweep.groups(c)
  records = train_group(group, c, _device(mnist_small, c), str(tmp_path), progress=False)
  by_lr = {r['point']['optimizer.learning_rate']: r for r in records}
  assert by_lr[1e12]['diverged'] and by_lr[1e12]['diverged_epoch'] == 1
  assert not by_lr[0.1]['diverged']
  assert by_lr[0.1]['final']['test_accuracy'] > 0.5


@pytest.mark.parametrize(
  'chunk,calls_before,position', [(1, 13, 'epoch 0, step 13'), (5, 5, 'epoch 1, step 5')]
)
def test_ctrl_c_between_progress_syncs_saves_the_exact_position(
  mnist_small, tmp_path, monkeypatch, chunk, calls_before, position
):
  """Interrupted after `calls_before` calls of the step program: one step each, or 5 (16/epoch)."""
  c = tiny_config()
  c.train.steps_per_call = chunk
  dev = _device(mnist_small, c)
  [group] = sweep.groups(c)
  straight = train_group(group, c, dev, str(tmp_path / 'straight'), progress=False)
  real_programs = loop.programs
  calls = []

  def interrupting_programs(*args):
    progs = real_programs(*args)

    def interrupt_after(fn):
      def call(*a):
        calls.append(1)
        if len(calls) == calls_before + 1:
          raise KeyboardInterrupt
        return fn(*a)

      return call

    return progs._replace(step=interrupt_after(progs.step), steps=interrupt_after(progs.steps))

  monkeypatch.setattr(loop, 'programs', interrupting_programs)
  with pytest.raises(KeyboardInterrupt):
    train_group(group, c, dev, str(tmp_path / 'b'), progress=False)
  monkeypatch.setattr(loop, 'programs', real_programs)
  logs = []
  resumed = train_group(group, c, dev, str(tmp_path / 'b'), progress=False, log=logs.append)
  assert any(position in m for m in logs)
  _assert_same(_by_key(straight), _by_key(resumed), n_eval=256, exact=True)


def test_a_whole_epoch_per_call_equals_one_step_per_call(mnist_small, tmp_path):
  """The scanned epoch is the same computation as the step loop, only dispatched once."""
  c = tiny_config()
  dev = _device(mnist_small, c)
  [group] = sweep.groups(c)
  assert plan.steps_per_call(c, 'mlp', 16) == 16  # auto on CPU: the whole epoch for an MLP
  assert plan.steps_per_call(c, 'cnn', 16) == 1
  c.train.steps_per_call = 1
  stepped = train_group(group, c, dev, str(tmp_path / 'a'), progress=False)
  c.train.steps_per_call = 16
  scanned = train_group(group, c, dev, str(tmp_path / 'b'), progress=False)
  _assert_same(_by_key(stepped), _by_key(scanned), n_eval=256)


def test_a_probe_measures_each_model_at_each_epoch_end(mnist_small, tmp_path):
  def probe(model, state, images, labels):
    del model, images
    return {
      'first_bias_norm': jnp.linalg.norm(state.params['Dense_0']['bias']),
      'label_count': jnp.asarray(labels.shape[0], jnp.float32),
    }

  c = tiny_config()
  [group] = sweep.groups(c)
  records = train_group(
    group, c, _device(mnist_small, c), str(tmp_path), progress=False, probe=probe
  )
  for r in records:
    norms = r['history']['first_bias_norm']
    assert len(norms) == 2 and norms[0] > 0 and norms[1] != norms[0]
    assert r['history']['label_count'] == [1024.0, 1024.0]


def _toy_config(**train):
  """A 2-D circle problem small enough to compile and train in a second or two."""
  import ml_collections

  c = tiny_config()
  c.dataset = ml_collections.ConfigDict(
    dict(
      name='circle',
      num_samples=200,
      noise=0.0,
      train_fraction=0.5,
      validation_size=20,
      data_dir='',
      train_subset=0,
      test_subset=0,
      split_seed=0,
      download=False,
      allow_standin=False,
    )
  )
  c.model.update(dict(hidden=(4,), num_classes=2, dropout=False))
  c.train.update(dict(epochs=2, batch_size=10, eval_batch_size=100, eval_train_size=0))
  c.train.update(train)
  c.sweep.model.dropout_rate = (0.0,)
  return c


def _toy_device(c):
  from engine import run

  return _device(run.load_dataset(c), c)


def test_passes_per_epoch_train_like_that_many_epochs(tmp_path):
  one = _toy_config(epochs=2, passes_per_epoch=1)
  two = _toy_config(epochs=1, passes_per_epoch=2)
  dev = _toy_device(one)
  [g1], [g2] = sweep.groups(one), sweep.groups(two)
  a = train_group(g1, one, dev, str(tmp_path / 'a'), progress=False, log=lambda m: None)
  b = train_group(g2, two, dev, str(tmp_path / 'b'), progress=False, log=lambda m: None)
  for ra, rb in zip(a, b):
    assert len(rb['history']['test_loss']) == 1
    for metric in ('train_loss', 'val_loss', 'test_loss', 'test_accuracy'):
      np.testing.assert_allclose(
        ra['history'][metric][-1], rb['final'][metric], rtol=1e-5, atol=1e-6, err_msg=metric
      )
    np.testing.assert_allclose(
      np.mean(ra['history']['train_running_accuracy']),
      rb['final']['train_running_accuracy'],
      rtol=1e-6,
    )
  assert len({r['final']['test_loss'] for r in a}) == 2  # the seeds really differ


def test_sorted_by_label_order_walks_each_pass_class_by_class():
  labels = jnp.asarray(np.arange(23) % 2, jnp.int32)
  keys = jax.vmap(jax.random.PRNGKey)(jnp.arange(3))
  sorted_ = np.asarray(loop._permutations(5, 'sorted_by_label', 2)(keys, 0, 23, labels))
  shuffled = np.asarray(loop._permutations(5, 'shuffled', 2)(keys, 0, 23, labels))
  assert sorted_.shape == shuffled.shape == (3, 40)  # 2 passes of 4 full batches of 5
  for model in range(3):
    for p in range(2):
      walk, mixed = sorted_[model, 20 * p : 20 * (p + 1)], shuffled[model, 20 * p : 20 * (p + 1)]
      assert len(set(walk)) == 20 and set(walk) <= set(range(23))
      assert (np.diff(np.asarray(labels)[walk]) >= 0).all()
      assert (np.diff(np.asarray(labels)[mixed]) < 0).any()
  assert not np.array_equal(sorted_[0, :20], sorted_[0, 20:])  # a fresh order within a class


def test_a_bad_order_or_pass_count_is_refused():
  from engine.errors import UserError

  with pytest.raises(UserError, match='sorted_by_label'):
    plan.train_options(_toy_config(order='by_label'))
  with pytest.raises(UserError, match='passes_per_epoch'):
    plan.train_options(_toy_config(passes_per_epoch=0))


def _step_probe(model, state, images, labels):
  del model, images, labels
  return {'seen_step': state.step.astype(jnp.float32)}


@pytest.mark.parametrize('chunk', [1, -1])
def test_probe_every_steps_records_a_trace_that_survives_a_kill(tmp_path, monkeypatch, chunk):
  c = _toy_config(probe_every_steps=3, steps_per_call=chunk)
  dev = _toy_device(c)
  [group] = sweep.groups(c)
  straight = train_group(
    group, c, dev, str(tmp_path / 'straight'), progress=False, log=lambda m: None, probe=_step_probe
  )
  for r in straight:
    assert r['trace']['step'] == [3, 6, 9, 13, 16, 19]  # 10 steps per epoch
    assert r['trace']['seen_step'] == [float(s) for s in r['trace']['step']]
    assert r['history']['seen_step'] == [10.0, 20.0]

  c.checkpoint_every_secs = 0.0
  real_save = checkpoints.save

  def save_then_die(mngr, step, tree):
    real_save(mngr, step, tree)
    if step > 10:  # mid-epoch 2 (step 13 or 16) when calls are short; else the end (20)
      raise _Killed()

  monkeypatch.setattr(checkpoints, 'save', save_then_die)
  with pytest.raises(_Killed):
    train_group(
      group, c, dev, str(tmp_path / 'k'), progress=False, log=lambda m: None, probe=_step_probe
    )
  monkeypatch.setattr(checkpoints, 'save', real_save)
  resumed = train_group(
    group, c, dev, str(tmp_path / 'k'), progress=False, log=lambda m: None, probe=_step_probe
  )
  assert [r['trace'] for r in resumed] == [r['trace'] for r in straight]


def test_short_epochs_evaluate_every_steps_per_epoch_steps(mnist_small, tmp_path):
  from engine.errors import UserError

  c = tiny_config()
  c.sweep.model.dropout_rate = (0.0,)
  c.seeds = 1
  assert plan.epoch_steps(c, 1024) == 16  # a whole pass of 1024 images at batch 64
  c.train.steps_per_epoch = 5
  assert plan.epoch_steps(c, 1024) == 5
  c.train.steps_per_epoch = 100
  assert plan.epoch_steps(c, 1024) == 16  # never more than the passes of an epoch
  c.train.steps_per_epoch = -1
  with pytest.raises(UserError, match='steps_per_epoch'):
    plan.epoch_steps(c, 1024)
  c.train.steps_per_epoch, c.train.epochs = 5, 3
  [group] = sweep.groups(c)
  [rec] = train_group(group, c, _device(mnist_small, c), str(tmp_path), progress=False)
  val = rec['history']['val_accuracy']
  assert len(val) == 3 and val[0] < val[2]


def test_one_off_programs_compile_cheaper_to_the_same_bits():
  """Init runs with `cpu_setup.one_off_compiler_options()`: every initializer, a conv net and
  batch norm must draw exactly what the default (-O3) compile draws (at -O0 they do not)."""
  import nets
  from engine import cpu_setup, state

  models = {
    name: nets.build('mlp', hidden=(16,), kernel_init=name, init_scale=0.5)
    for name in nets.initializers.NAMES
  }
  models['cnn_bn'] = nets.build('cnn', conv_features=(8,), dense=(16,), batch_norm=True)
  sample = jnp.zeros((1, 28, 28, 1))

  def init_all(keys):
    def one(key):
      return {
        name: state.create(m, optax.adam(1e-3), key, sample, 0.0) for name, m in models.items()
      }

    return jax.vmap(one)(keys)

  keys = jax.random.split(jax.random.key(7), 3)
  lowered = jax.jit(init_all).lower(keys)
  cheap = lowered.compile(compiler_options=cpu_setup.one_off_compiler_options())(keys)
  default = lowered.compile()(keys)
  assert cpu_setup.one_off_compiler_options()  # on CPU the options are in force
  leaves = jax.tree.leaves_with_path(default)
  assert len(leaves) > 40
  for (path, a), b in zip(leaves, jax.tree.leaves(cheap)):
    np.testing.assert_array_equal(a, b, err_msg=jax.tree_util.keystr(path))


def test_an_mlp_compiles_its_dots_without_ynnpack_and_a_conv_net_keeps_it():
  """An MLP's small dots run in XLA's own emitter (`cpu_setup.model_compiler_options`): its
  compiled step and evaluation hold no YNNPACK fusion, while a conv net's dense layers keep it."""
  import nets

  def compiled_text(model, batch):
    progs = loop.programs(model, (('learning_rate', 1e-3), ('name', 'adam')), batch, single=True)
    keys = jnp.stack([jax.random.key_data(jax.random.key(0))])
    images = jnp.zeros((4 * batch, 28, 28, 1))
    labels = jnp.zeros((4 * batch,), jnp.int32)
    states = progs.init(keys, jnp.zeros((1,)), {'learning_rate': jnp.full((1,), 1e-3)}, images[:1])
    sums = {k: jnp.zeros((1,)) for k in ('loss_sum', 'correct', 'count')}
    perms = jnp.arange(4 * batch, dtype=jnp.int32)[None]
    steps = progs.steps.lower(states, sums, perms, 2, 0, keys, images, labels).compile()
    mask = jnp.ones((batch,), bool)
    ev = progs.eval.lower(states, sums, images[:batch], labels[:batch], mask).compile()
    return steps.as_text(), ev.as_text()

  mlp = nets.build('mlp', hidden=(16,))
  cnn = nets.build('cnn', conv_features=(4,), dense=(8,))
  for text in compiled_text(mlp, 8):
    assert ' dot(' in text and 'ynn_fusion' not in text
  steps_text, eval_text = compiled_text(cnn, 8)
  assert 'ynn_fusion' in steps_text and 'ynn_fusion' in eval_text
