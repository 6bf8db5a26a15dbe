import jax
import numpy as np
import pytest

from data import aligned, datasets
from engine import loop


@pytest.mark.parametrize('shape,dtype', [((3,), np.uint8), ((5000, 28, 28, 1), np.float32),
                                         ((7, 3), np.int32), ((0,), np.float32)])  # fmt: skip
def test_empty_is_aligned_and_contiguous(shape, dtype):
  a = aligned.empty(shape, dtype)
  assert a.shape == shape and a.dtype == dtype
  assert aligned.is_aligned(a)


def test_frozen_keeps_an_aligned_read_only_array_and_never_freezes_a_callers():
  mine = aligned.empty((100, 10), np.float32)
  mine[...] = 1.5
  mine.flags.writeable = False
  assert aligned.frozen(mine) is mine
  theirs = np.arange(1000, dtype=np.float32)[1:]  # misaligned, writable
  got = aligned.frozen(theirs)
  assert got is not theirs and np.array_equal(got, theirs) and aligned.is_aligned(got)
  assert theirs.flags.writeable and not got.flags.writeable
  with pytest.raises(ValueError):
    got[0] = 0.0


def test_float_images_are_the_same_values_in_aligned_read_only_memory():
  images = np.random.default_rng(0).integers(0, 256, (50, 28, 28), dtype=np.uint8)
  reference = images.astype(np.float32)
  reference /= 255.0
  x = datasets._as_float_images(images)
  assert x.shape == (50, 28, 28, 1) and x.dtype == np.float32
  np.testing.assert_array_equal(x[..., 0], reference)
  assert aligned.is_aligned(x) and not x.flags.writeable


def test_the_device_holds_the_datasets_images_in_place_not_a_copy(shared_datasets, monkeypatch):
  """The memory this saves is the whole dataset (bench/STUDY.md): XLA:CPU uses the host array."""
  if jax.default_backend() != 'cpu':
    pytest.skip('aliasing host memory is XLA:CPU behaviour')
  monkeypatch.setenv('JAX_FINDINGS_DATA', shared_datasets)
  ds = datasets.load('mnist', validation_size=1000, train_subset=3000, test_subset=2000)
  dev = loop.put_on_device(ds, eval_train_size=1000, eval_batch_size=500)
  train_x, _ = dev['train']
  assert train_x.unsafe_buffer_pointer() == ds.train_x.ctypes.data
  for split, host in (('train', ds.train_x), ('val', ds.val_x), ('test', ds.test_x)):
    x, _, mask = dev['eval'][split]
    assert x.unsafe_buffer_pointer() == host.ctypes.data, split  # no padding needed: in place
    assert bool(mask.all())
  np.testing.assert_array_equal(np.asarray(train_x), ds.train_x)


def test_a_padded_eval_split_is_a_copy_with_its_padding_masked(shared_datasets, monkeypatch):
  monkeypatch.setenv('JAX_FINDINGS_DATA', shared_datasets)
  ds = datasets.load('mnist', validation_size=700, train_subset=3000, test_subset=2000)
  x, y, mask = loop.put_on_device(ds, eval_train_size=1000, eval_batch_size=500)['eval']['val']
  assert x.shape == (2, 500, 28, 28, 1) and int(mask.sum()) == 700
  np.testing.assert_array_equal(np.asarray(x).reshape(1000, 28, 28, 1)[:700], ds.val_x)
  assert not np.asarray(x).reshape(1000, -1)[700:].any() and not np.asarray(y)[1, 200:].any()
