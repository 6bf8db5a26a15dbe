"""A file-free stand-in for MNIST: scikit-learn's bundled 8x8 digits at 28x28.

It lets a run go on where no real data can be had (CI, an offline laptop), at
the price of saying nothing about MNIST itself; callers must flag its use.
The 1,797 images are scaled into a 20x20 box and padded to 28x28, as MNIST's
digits were, and split 1,500 train / 297 test, stratified, always the same.
"""

import functools

import numpy as np

from data.sources import SourceData

TEST_SIZE = 297
SOURCE = "scikit-learn's bundled 8x8 digits, upscaled to 28x28"


@functools.lru_cache(maxsize=1)
def load_digits_28x28() -> SourceData:
  """Returns the digits as uint8 (N, 28, 28) images, like MNIST's IDX files."""
  # Imported here: scikit-learn takes over a second to import, and only the
  # stand-in needs it.
  import scipy.ndimage  # pylint: disable=g-import-not-at-top
  import sklearn.datasets  # pylint: disable=g-import-not-at-top
  import sklearn.model_selection  # pylint: disable=g-import-not-at-top

  digits = sklearn.datasets.load_digits()
  boxed = scipy.ndimage.zoom(digits.images / 16.0, (1, 2.5, 2.5), order=1)
  padded = np.pad(boxed, ((0, 0), (4, 4), (4, 4)))
  images = np.round(np.clip(padded, 0.0, 1.0) * 255).astype(np.uint8)
  labels = digits.target.astype(np.uint8)
  train_x, test_x, train_y, test_y = sklearn.model_selection.train_test_split(
    images, labels, test_size=TEST_SIZE, stratify=labels, random_state=0
  )
  for array in (train_x, train_y, test_x, test_y):
    array.flags.writeable = False
  return SourceData(train_x, train_y, test_x, test_y, source=SOURCE)


@functools.lru_cache(maxsize=1)
def load_digits_32x32x3() -> SourceData:
  """The same digits padded to 32x32 and repeated over 3 channels: CIFAR-10's shapes."""
  d = load_digits_28x28()

  def rgb(images):
    out = np.repeat(np.pad(images, ((0, 0), (2, 2), (2, 2)))[..., None], 3, axis=-1)
    out.flags.writeable = False
    return out

  return SourceData(
    rgb(d.train_images),
    d.train_labels,
    rgb(d.test_images),
    d.test_labels,
    source=SOURCE + ', padded to 32x32x3',
  )
