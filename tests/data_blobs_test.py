"""Three gaussian blobs: the classic make_blobs sample, the same for the same seed."""

import numpy as np
import pytest

import data


def _load(**kw):
  args = dict(num_samples=1000, train_fraction=0.5, validation_size=200, seed=2)
  args.update(kw)
  return data.load('blobs', **args)


def test_splits_shapes_and_classes():
  ds = _load()
  assert ds.train_x.shape == (500, 2) and ds.test_x.shape == (500, 2) and ds.val_x.shape == (200, 2)
  assert ds.train_x.dtype == np.float32 and ds.train_y.dtype == np.int32
  assert ds.num_classes == 3 and set(ds.train_y) == {0, 1, 2} and set(ds.val_y) == {0, 1, 2}
  assert 'blobs' in ds.describe() and '2-D points' in ds.describe()


def test_same_seed_same_points_other_seed_other_points():
  a, b, c = _load(), _load(), _load(seed=3)
  np.testing.assert_array_equal(a.train_x, b.train_x)
  np.testing.assert_array_equal(a.val_x, b.val_x)
  assert not np.allclose(a.train_x, c.train_x)


def test_validation_is_a_fresh_sample_around_the_same_centers():
  ds = _load()
  assert not np.isin(ds.val_x[:, 0], ds.train_x[:, 0]).any()
  for k in range(3):
    train_mean = ds.train_x[ds.train_y == k].mean(0)
    val_mean = ds.val_x[ds.val_y == k].mean(0)
    assert np.linalg.norm(train_mean - val_mean) < 1.0  # std 2, ~67 points: se ~0.25


def test_a_split_without_points_is_refused():
  with pytest.raises(data.DataError, match='fewer than 2 points'):
    _load(num_samples=3)
