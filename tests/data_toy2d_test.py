"""The generated 2-D problems: deterministic, balanced, the playground's geometry, gates."""

import numpy as np
import pytest

import data
from data import toy2d


@pytest.mark.parametrize('name', toy2d.PLAYGROUND)
def test_a_seed_gives_the_same_points_and_another_seed_others(name):
  a = data.load(name, validation_size=20, noise=0.1, seed=3)
  b = data.load(name, validation_size=20, noise=0.1, seed=3)
  c = data.load(name, validation_size=20, noise=0.1, seed=4)
  np.testing.assert_array_equal(a.train_x, b.train_x)
  np.testing.assert_array_equal(a.test_y, b.test_y)
  assert not np.array_equal(a.train_x, c.train_x)
  assert a.train_x.shape == (250, 2) and a.test_x.shape == (250, 2) and a.val_x.shape == (20, 2)
  assert a.train_x.dtype == np.float32 and a.train_y.dtype == np.int32
  assert set(np.unique(a.train_y)) == {0, 1} and a.num_classes == 2
  assert 0.4 < a.train_y.mean() < 0.6
  assert np.abs(a.train_x).max() <= 6.5
  assert '2-D points' in a.describe()


def test_the_geometry_of_each_problem_without_noise():
  circle = data.load('circle', num_samples=400, validation_size=0)
  r = np.linalg.norm(circle.train_x, axis=1)
  assert (r[circle.train_y == 1] < 2.5).all() and (r[circle.train_y == 0] > 3.5).all()
  xor = data.load('xor', num_samples=400, validation_size=0)
  assert ((xor.train_x[:, 0] * xor.train_x[:, 1] >= 0) == (xor.train_y == 1)).all()
  assert (np.abs(xor.train_x) >= toy2d.XOR_PADDING).all()
  gauss = data.load('gaussians', num_samples=400, validation_size=0)
  assert gauss.train_x[gauss.train_y == 1].mean(0) == pytest.approx([2, 2], abs=0.3)
  spiral = data.load('spiral', num_samples=400, validation_size=0)
  assert np.linalg.norm(spiral.train_x, axis=1).max() <= 5.0


def test_noise_flips_circle_labels_near_the_boundary():
  clean = data.load('circle', num_samples=1000, validation_size=0, noise=0.0)
  noisy = data.load('circle', num_samples=1000, validation_size=0, noise=0.5)
  r = np.linalg.norm(noisy.train_x, axis=1)
  wrong = (r < 2.5) != (noisy.train_y == 1)
  assert wrong.mean() > 0.05
  assert ((np.linalg.norm(clean.train_x, axis=1) < 2.5) == (clean.train_y == 1)).all()


def test_split_sizes_follow_the_fraction_and_subsets():
  d = data.load(
    'spiral', num_samples=100, train_fraction=0.8, validation_size=7, train_subset=30, test_subset=5
  )
  assert (len(d.train_y), len(d.val_y), len(d.test_y)) == (30, 7, 5)


def test_gates_hold_their_truth_table_in_every_split():
  xor = data.load('xor_gate')
  np.testing.assert_array_equal(xor.train_x, [[0, 0], [0, 1], [1, 0], [1, 1]])
  np.testing.assert_array_equal(xor.train_y, [0, 1, 1, 0])
  np.testing.assert_array_equal(xor.test_y, xor.train_y)
  np.testing.assert_array_equal(data.load('or_gate').val_y, [0, 1, 1, 1])


@pytest.mark.parametrize(
  'kw,match',
  [
    (dict(noise=0.9), 'noise'),
    (dict(num_samples=3), 'fewer than 2'),
    (dict(train_fraction=1.0), 'fewer than 2'),
  ],
)
def test_bad_generator_settings_are_refused(kw, match):
  with pytest.raises(data.DataError, match=match):
    data.load('circle', validation_size=10, **kw)
