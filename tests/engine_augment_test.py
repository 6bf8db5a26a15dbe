"""The engine's `augment` config: applied inside the train step, normalization at eval too."""

import dataclasses

import ml_collections
import numpy as np
from conftest import tiny_config, train_group

from engine import loop, sweep

MEAN, STD = (0.13,), (0.31,)


def _run(ds, c, path):
  [group] = sweep.groups(c, 0)
  dev = loop.put_on_device(ds, c.train.eval_train_size, c.train.eval_batch_size)
  return train_group(group, c, dev, str(path), progress=False, log=lambda m: None)


def _config(**augment):
  c = tiny_config()
  c.sweep = ml_collections.ConfigDict()
  c.seeds, c.train.epochs = 1, 1
  if augment:
    c.augment = ml_collections.ConfigDict(augment)
  return c


def test_normalizing_in_the_step_equals_normalized_data(mnist_small, tmp_path):
  """mean/std only: the same training and evaluation as on data normalized beforehand."""
  inside = _run(mnist_small, _config(mean=MEAN, std=STD), tmp_path / 'a')
  scaled = {k: (getattr(mnist_small, k) - MEAN[0]) / STD[0] for k in ('train_x', 'val_x', 'test_x')}
  before = _run(dataclasses.replace(mnist_small, **scaled), _config(), tmp_path / 'b')
  for k, v in inside[0]['final'].items():
    np.testing.assert_allclose(v, before[0]['final'][k], rtol=1e-4, atol=2e-3, err_msg=k)


def test_crop_and_flip_change_training_deterministically(mnist_small, tmp_path):
  spec = dict(crop_padding=4, flip_probability=0.5, mean=MEAN, std=STD)
  a = _run(mnist_small, _config(**spec), tmp_path / 'a')[0]['final']
  b = _run(mnist_small, _config(**spec), tmp_path / 'b')[0]['final']
  plain = _run(mnist_small, _config(mean=MEAN, std=STD), tmp_path / 'c')[0]['final']
  assert a == b
  assert a['train_running_loss'] != plain['train_running_loss']
