"""Layouts over several devices: data parallel, sweep parallel and both match one device.

The device count of a process is fixed when its backend starts, so the runs on 4 fake CPU
devices (`JAX_NUM_CPU_DEVICES`) happen in one child process: this file run as a script, which
prints each case's records as JSON for the tests to compare.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from engine import parallel
from engine.errors import UserError

HERE = os.path.dirname(os.path.abspath(__file__))
# Accumulation order differs across layouts (the data split sums each batch in parts), so
# losses agree to float tolerance; an accuracy may move by an image or two.
LOSS_TOL = 1e-5
ACC_TOL = 2 / 512


@pytest.mark.parametrize(
  'mode, devices, models, batch, expected',
  [
    ('auto', 1, 4, 64, (1, 1)),
    ('auto', 8, 30, 32, (8, 1)),  # enough models: one slice of them per device
    ('auto', 8, 1, 32, (1, 8)),  # one model: each batch over all devices
    ('auto', 8, 3, 32, (2, 4)),  # 3 models padded to 4 in 2 slices, each over 4 devices
    ('auto', 8, 1, 12, (8, 1)),  # no data split divides 12: models (padded) per device
    ('sweep', 4, 1, 64, (4, 1)),
    ('data', 4, 30, 64, (1, 4)),
  ],
)
def test_mesh_shape(mode, devices, models, batch, expected):
  assert parallel.mesh_shape(mode, devices, models, batch) == expected


def test_bad_layouts_are_refused_with_the_fix():
  with pytest.raises(UserError, match='multiple of 3'):
    parallel.mesh_shape('data', 3, 1, 64)
  with pytest.raises(UserError, match='pick one of auto, sweep, data'):
    parallel.mesh_shape('model', 2, 1, 64)


def test_padding_rounds_up_to_the_model_shards():
  assert parallel.padded(10, 8) == 16 and parallel.padded(8, 8) == 8 and parallel.padded(1, 1) == 1
  lay = parallel.Layout(parallel.one_device_mesh(), 3)
  assert lay.padded == 3
  assert lay.fetch(lay.put(np.arange(3.0))).tolist() == [0.0, 1.0, 2.0]


def test_more_devices_than_there_are_is_refused():
  import ml_collections

  c = ml_collections.ConfigDict(dict(parallel=dict(mode='auto', devices=64)))
  with pytest.raises(UserError, match='more devices than'):
    parallel.devices(c)


def _run_cases(devices=4):
  env = dict(os.environ, JAX_NUM_CPU_DEVICES=str(devices), JAX_PLATFORMS='cpu')
  out = subprocess.run(
    [sys.executable, os.path.abspath(__file__)],
    env=env,
    cwd=HERE,
    capture_output=True,
    text=True,
    timeout=900,
  )
  assert out.returncode == 0, out.stderr[-4000:]
  return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope='module')
def cases(shared_datasets):
  return _run_cases()


def _close(a, b):
  """Per model, every epoch's losses within LOSS_TOL and accuracies within ACC_TOL."""
  assert [(r['label'], r['seed']) for r in a] == [(r['label'], r['seed']) for r in b]
  for ra, rb in zip(a, b):
    for key, va in ra['history'].items():
      tol = LOSS_TOL if key.endswith('loss') else ACC_TOL
      np.testing.assert_allclose(va, rb['history'][key], atol=tol, rtol=tol, err_msg=key)


@pytest.mark.parametrize('case', ['data', 'sweep', 'auto_3_models', 'sweep_then_one_device'])
def test_a_layout_trains_what_one_device_trains(cases, case):
  baseline = cases['one_device_3_models' if case == 'auto_3_models' else 'one_device']
  assert cases['layouts'][case] == cases['expected_layouts'][case]
  _close(cases[case], baseline)


def test_data_parallel_batch_norm_uses_the_global_batch(cases):
  """BN's batch statistics over the whole batch, not each device's quarter of it."""
  _close(cases['data_bn'], cases['one_device_bn'])


@pytest.mark.parametrize(
  'case, all_reduces, block',
  [
    ('data', True, 'f32[4,16,784]'),  # 4 models on every device, a quarter of each batch of 64
    ('sweep', False, 'f32[64,784]'),  # one model per device, its whole batch; nothing crosses
  ],
)
def test_the_compiled_step_splits_what_the_layout_says(cases, case, all_reduces, block):
  """The per-device program of the step: its first layer's input block, and gradient all-reduces."""
  hlo = cases['hlo'][case]
  assert (hlo['all_reduce'] > 0) == all_reduces
  assert block in hlo['input_blocks']


def test_layouts_differ_from_a_wrong_run(cases):
  """The comparison can fail: another seed's training is far outside the tolerance."""
  with pytest.raises(AssertionError):
    _close(cases['other_seed'], cases['one_device'])


def _child():
  """Runs every case on this process's devices; prints {case: records} as one JSON line."""
  sys.path.insert(0, os.path.dirname(HERE))
  from engine import cpu_setup

  cpu_setup.configure()
  import re
  import tempfile

  import jax
  from conftest import tiny_config, train_group

  import data
  from engine import loop, plan, sweep

  assert jax.device_count() == 4, jax.devices()
  root = os.path.join(os.path.dirname(os.path.dirname(HERE)), 'shared', 'datasets')
  ds = data.load(
    'mnist', data_dir=root, validation_size=256, train_subset=1024, test_subset=512, download=False
  )
  tmp = tempfile.mkdtemp()
  out = {'layouts': {}, 'expected_layouts': {}}

  def train(name, c, expected=None, **kw):
    c.checkpoint_every_secs = 0.0  # a checkpoint at every epoch end: resuming is exercised
    [group] = sweep.groups(c)
    dev = loop.put_on_device(
      ds, c.train.eval_train_size, c.train.eval_batch_size, parallel.devices(c)
    )
    if expected:
      lay = parallel.layout(c, len(group.points) * len(group.seeds))
      out['layouts'][name] = [lay.model_shards, lay.data_shards]
      out['expected_layouts'][name] = list(expected)
    out[name] = train_group(
      group, c, dev, os.path.join(tmp, name), progress=False, log=lambda m: None, **kw
    )

  def config(mode='auto', devices=0, **changes):
    c = tiny_config()  # 2 dropout rates x 2 seeds: 4 models; dropout masks are drawn
    c.parallel.update(dict(mode=mode, devices=devices))
    for key, value in changes.items():
      section, leaf = key.split('__')
      c[section][leaf] = value
    return c

  train('one_device', config(devices=1))
  train('data', config('data'), (1, 4))
  train('sweep', config('sweep'), (4, 1))
  c3 = config(devices=1)
  c3.seeds = 3
  c3.sweep.model.dropout_rate = (0.5,)
  train('one_device_3_models', c3)
  c3 = config()
  c3.seeds = 3
  c3.sweep.model.dropout_rate = (0.5,)
  train('auto_3_models', c3, (2, 2))

  bn = dict(model__batch_norm=True)
  train('one_device_bn', config(devices=1, **bn))
  train('data_bn', config('data', **bn), (1, 4))

  class Stop(KeyboardInterrupt):
    pass

  def stop_after_first(epoch, row):
    if epoch == 1:
      raise Stop

  try:
    train('sweep_then_one_device', config('sweep'), (4, 1), on_epoch=stop_after_first)
  except Stop:
    pass
  train('sweep_then_one_device', config(devices=1))  # resumes the 4-device checkpoint
  out['layouts']['sweep_then_one_device'] = out['expected_layouts']['sweep_then_one_device']

  out['hlo'] = {}
  for mode in ('data', 'sweep'):
    c = config(mode)
    [group] = sweep.groups(c)
    dev = loop.put_on_device(
      ds, c.train.eval_train_size, c.train.eval_batch_size, parallel.devices(c)
    )
    images, labels = dev['train']
    start = loop.start_group(group, plan.resolve(group, len(ds.train_y)), images)
    perms = start.programs.permutations(start.keys, 0, len(ds.train_y), labels)
    text = (
      start.programs.step.lower(
        start.states, loop.zero_sums(start.layout), perms, 0, start.keys, images, labels
      )
      .compile()
      .as_text()
    )
    out['hlo'][mode] = {
      'all_reduce': len(re.findall(r'all-reduce(-start)?\(', text)),
      'input_blocks': sorted(set(re.findall(r'f32\[(?:\d+,)?\d+,784\]', text))),
    }

  other = config(devices=1)
  other.seed = 7
  train('other_seed', other)
  for r in out['other_seed']:
    r['seed'] -= 7
  print(json.dumps(out, default=float))


if __name__ == '__main__':
  _child()
