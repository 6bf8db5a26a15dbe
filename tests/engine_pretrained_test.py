"""Weights from elsewhere: another run's checkpoint and Keras VGG HDF5 files, bit for bit."""

import json
import os

import jax
import ml_collections
import numpy as np
import pytest
from conftest import tiny_config, train_group

from engine import base_config, checkpoints, loop, plan, pretrained, sweep
from engine.errors import UserError


def _start(c, images):
  [group] = sweep.groups(c)
  return loop.start_group(group, plan.resolve(group, len(images)), images)


def _one(params, i):
  return jax.tree.map(lambda a: np.asarray(a[i]), jax.device_get(params))


def _source_run(mnist_small, workdir):
  """A finished run of 2 seeds in `workdir`, laid out as engine/run.py leaves it."""
  c = tiny_config()
  c.sweep = {}
  c.train.epochs = 1
  dev = loop.put_on_device(mnist_small, c.train.eval_train_size, c.train.eval_batch_size)
  [group] = sweep.groups(c)
  gdir = os.path.join(workdir, 'groups', group.name)
  train_group(group, c, dev, gdir, progress=False)
  with open(os.path.join(gdir, 'result.json'), 'w') as f:
    json.dump({'points': [sweep.label(p) for p in group.points], 'seeds': list(group.seeds)}, f)
  return c, dev


def test_params_restored_from_another_run_bit_for_bit(mnist_small, tmp_path):
  _, dev = _source_run(mnist_small, str(tmp_path / 'src'))
  saved = checkpoints.restore_variables(str(tmp_path / 'src/groups/group_000/checkpoints'), 0)
  saved1 = checkpoints.restore_variables(str(tmp_path / 'src/groups/group_000/checkpoints'), 1)
  assert not np.array_equal(
    saved['params']['Dense_0']['kernel'], saved1['params']['Dense_0']['kernel']
  )

  t = tiny_config()
  t.sweep = {}
  t.transfer = base_config.transfer_config()
  t.transfer.checkpoint_dir = str(tmp_path / 'src')
  t.transfer.keep_init = ('Dense_1',)
  images = dev['train'][0]
  fresh = _start(tiny_config(), images).states.params
  got = _start(t, images).states.params
  for i, src in enumerate((saved, saved1)):  # seed -1: each model from its own seed's source
    g = _one(got, i)
    for name in ('kernel', 'bias'):
      np.testing.assert_array_equal(g['Dense_0'][name], src['params']['Dense_0'][name])
      np.testing.assert_array_equal(g['Dense_1'][name], _one(fresh, i)['Dense_1'][name])
  t.transfer.seed = 1  # one source model for every seed
  got = _start(t, images).states.params
  np.testing.assert_array_equal(
    _one(got, 0)['Dense_0']['kernel'], saved1['params']['Dense_0']['kernel']
  )

  t.transfer.point = 'dropout_rate=0.5'
  with pytest.raises(UserError, match=r"no trained model at point 'dropout_rate=0.5'.*base"):
    _start(t, images)
  t.transfer.point, t.model.hidden = 'base', (16,)
  with pytest.raises(UserError, match=r'Dense_0/kernel <- base/Dense_0/kernel: shape \(784, 32\)'):
    _start(t, images)


def _vgg_config(**model):
  c = ml_collections.ConfigDict()
  c.model = ml_collections.ConfigDict(
    dict(name='vgg', configuration='E', num_classes=10, hidden=8, hidden_layers=0, width_divisor=16)
  )
  c.model.update(model)
  c.transfer = base_config.transfer_config()
  return c


def _load(c, models=1):
  """What `c.transfer` loads into `models` models of `c.model`: traced shapes, nothing compiled."""
  target = pretrained.shapes(loop.build_model(c.model), np.zeros((1, 32, 32, 3), np.float32))
  return target, pretrained.load(c, target, list(range(models)))


def test_keras_vgg19_weights_map_onto_nets_vgg(tmp_path):
  layers = pretrained.keras_vgg_layers('E', width_divisor=16, top=(32, 8, 10))
  path = str(tmp_path / 'vgg19.h5')
  pretrained.write_keras_h5(path, layers)

  c = _vgg_config()  # the document's head: include_top=False, one new Dense
  c.transfer.keras_weights = path
  c.transfer.keep_init = ('Dense_*',)
  target, rows = _load(c, models=2)
  order = [
    f'block{s}_conv{i}'
    for s, n in ((1, 2), (2, 2), (3, 4), (4, 4), (5, 4))
    for i in range(1, n + 1)
  ]
  assert {p.split('/')[0] for p in target} == {f'Conv_{i}' for i in range(16)} | {'Dense_0'}
  assert set(rows) == {p for p in target if p.startswith('Conv_')}
  for i, name in enumerate(order):
    for w in ('kernel', 'bias'):
      for m in range(2):
        np.testing.assert_array_equal(rows[f'Conv_{i}/{w}'][m], layers[name][w])

  c = _vgg_config(hidden_layers=2)  # with the top: fc1, fc2, predictions
  c.transfer.keras_weights = path
  _, rows = _load(c)
  for i, name in enumerate(('fc1', 'fc2', 'predictions')):
    np.testing.assert_array_equal(rows[f'Dense_{i}/kernel'][0], layers[name]['kernel'])
    np.testing.assert_array_equal(rows[f'Dense_{i}/bias'][0], layers[name]['bias'])


def test_keras_mismatches_name_the_layers(tmp_path):
  vgg16 = str(tmp_path / 'vgg16.h5')
  pretrained.write_keras_h5(vgg16, pretrained.keras_vgg_layers('D', width_divisor=16))
  c = _vgg_config()
  c.transfer.keras_weights = vgg16
  c.transfer.keep_init = ('Dense_*',)
  with pytest.raises(UserError) as e:
    _load(c)
  msg = str(e.value)
  assert (
    'Conv_7/bias <- block3_conv4/bias:0: missing from the source' in msg and 'Keras VGG19' in msg
  ), msg

  wide = str(tmp_path / 'wide.h5')
  pretrained.write_keras_h5(wide, pretrained.keras_vgg_layers('E', width_divisor=8))
  c.transfer.keras_weights = wide
  with pytest.raises(UserError) as e:
    _load(c)
  msg = str(e.value)
  assert (
    'Conv_0/kernel <- block1_conv1/kernel:0: shape (3, 3, 3, 8) in the source, (3, 3, 3, 4)' in msg
  )
  assert '27 more' in msg  # 32 conv weights differ, 5 shown

  c.transfer.keep_init = ('Dense_*', 'head')
  with pytest.raises(UserError, match=r"keep_init pattern.*'head'"):
    _load(c)
  c.transfer.keras_weights = str(tmp_path / 'none.h5')
  with pytest.raises(UserError, match='is not a file'):
    _load(c)
  c.transfer.keras_weights, c.model.name = wide, 'cnn'
  with pytest.raises(UserError, match='VGG16 or VGG19 only'):
    pretrained.keras_vgg_names(c.model)
