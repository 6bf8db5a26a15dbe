"""Tests for data/augment.py: shapes, crop and flip statistics, determinism, vmap == one by one."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from data import augment

CIFAR = augment.Spec(4, 0.5, (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010))
CROP_FLIP = augment.Spec(4, 0.5)
train = jax.jit(augment.train_images, static_argnums=2)


def _images(n, seed=0):
  return jax.random.uniform(jax.random.PRNGKey(seed), (n, 32, 32, 3))


def test_shapes_and_dtype():
  out = train(jax.random.PRNGKey(1), _images(5), CIFAR)
  assert out.shape == (5, 32, 32, 3) and out.dtype == jnp.float32
  assert jax.jit(augment.eval_images, static_argnums=1)(_images(5), CIFAR).shape == (5, 32, 32, 3)


def test_same_key_same_result_other_key_other_result():
  x = _images(8)
  a = train(jax.random.PRNGKey(7), x, CIFAR)
  b = train(jax.random.PRNGKey(7), x, CIFAR)
  c = train(jax.random.PRNGKey(8), x, CIFAR)
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, c)


def test_batch_in_one_program_equals_one_by_one():
  x = _images(6)
  key = jax.random.PRNGKey(3)
  batch = jax.jit(augment.train_images, static_argnums=2)(key, x, CIFAR)
  keys = jax.random.split(key, 6)
  one = jax.jit(lambda k, image: augment.eval_images(augment.augment_one(k, image, CIFAR), CIFAR))
  for i in range(6):
    np.testing.assert_array_equal(batch[i], one(keys[i], x[i]))


def test_crop_offsets_uniform_and_flip_half():
  """Over 900 draws: every offset 0-8 in both directions, each about 1/9; flips about 1/2.

  Each pixel of the image holds its own position, so the centre of a crop gives its offset and
  the step to its right neighbour (+1 or -1) whether it was flipped.
  """
  n = 900
  yy, xx = np.mgrid[:32, :32]
  image = np.repeat((yy * 32 + xx + 1)[..., None], 3, -1).astype(np.float32)
  out = np.asarray(
    train(jax.random.PRNGKey(11), jnp.broadcast_to(image, (n, 32, 32, 3)), CROP_FLIP)
  )
  centre = out[:, 16, 16, 0].astype(int) - 1
  flipped = out[:, 16, 17, 0] < out[:, 16, 16, 0]
  dy = centre // 32 - 12
  dx = centre % 32 - np.where(flipped, 11, 12)
  # The whole output is that crop of the zero-padded image, mirrored where flipped.
  padded = np.pad(image, ((4, 4), (4, 4), (0, 0)))
  for i in range(0, n, 97):
    crop = padded[dy[i] : dy[i] + 32, dx[i] : dx[i] + 32]
    np.testing.assert_array_equal(out[i], crop[:, ::-1] if flipped[i] else crop)
  for offsets in (dy, dx):
    counts = np.bincount(offsets, minlength=9)
    assert counts.size == 9 and counts.min() > 0
    # 100 expected per offset; binomial sd 9.4: 4 sd either way.
    assert np.all(np.abs(counts - 100) < 38), counts
  assert abs(flipped.mean() - 0.5) < 4 * np.sqrt(0.25 / n)


def test_padding_is_black_before_normalization():
  """A crop at the corner shows the padding as raw 0, normalized to -mean/std, as torchvision."""
  x = jnp.ones((400, 32, 32, 3))
  out = np.asarray(train(jax.random.PRNGKey(0), x, CIFAR))
  low = -np.array(CIFAR.mean) / np.array(CIFAR.std)
  high = (1 - np.array(CIFAR.mean)) / np.array(CIFAR.std)
  is_low = np.isclose(out, low, atol=1e-5)
  assert np.all(is_low | np.isclose(out, high, atol=1e-5))
  assert is_low.any() and not is_low.all()


def test_normalize_divides_by_the_std_triple():
  """The document's 'variance' is what Normalize divides by: mean + std maps to 1."""
  x = jnp.broadcast_to(jnp.array(CIFAR.mean) + jnp.array(CIFAR.std), (1, 2, 2, 3))
  np.testing.assert_allclose(augment.eval_images(x, CIFAR), 1.0, rtol=1e-6)


def test_flip_probability_zero_and_one():
  x = _images(4)
  key = jax.random.PRNGKey(2)
  np.testing.assert_array_equal(train(key, x, augment.Spec(0, 0.0)), x)
  np.testing.assert_array_equal(train(key, x, augment.Spec(0, 1.0)), x[:, :, ::-1])


def test_from_config():
  c = ml_collections.ConfigDict(
    dict(enabled=True, crop_padding=4, flip_probability=0.5, mean=CIFAR.mean, std=CIFAR.std)
  )
  assert augment.from_config(c) == CIFAR
  c.enabled = False
  assert augment.from_config(c) is None
  assert augment.from_config(None) is None
  c.enabled, c.std = True, (0.2, 0.2)
  with pytest.raises(ValueError, match='one value per channel'):
    augment.from_config(c)
