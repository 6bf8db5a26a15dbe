"""The public entry point: `load(name)` gives in-memory train/val/test splits.

The datasets here (images, generated 2-D points) fit in memory many times
over, so splits are plain NumPy arrays that experiments batch and shuffle
themselves.
"""

import dataclasses

import numpy as np
from absl import logging

from data import aligned, blobs, cifar10, digits, sources, toy2d
from data.errors import DataError, DataNotFoundError

NAMES = (*sources.NAMES, cifar10.NAME, cifar10.GENERATED, 'digits', *toy2d.NAMES, blobs.NAME)
MAX_VALIDATION_FRACTION = 0.2


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
  """Images float32 in [0, 1], shaped (N, 28, 28, 1) or (N, 32, 32, 3) (CIFAR-10), or 2-D points
  (N, 2); labels int32.

  `standin` is True when the digits stand-in replaced the requested dataset
  (`name` stays the requested one), so every report can say so.
  """

  train_x: np.ndarray
  train_y: np.ndarray
  val_x: np.ndarray
  val_y: np.ndarray
  test_x: np.ndarray
  test_y: np.ndarray
  num_classes: int
  name: str
  source: str
  standin: bool
  kind: str = 'images of 28x28x1'

  def describe(self) -> str:
    """One line for logs and reports."""
    return (
      f'{self.name}: {len(self.train_x)} train / {len(self.val_x)} val / '
      f'{len(self.test_x)} test {self.kind}, {self.num_classes} '
      f'classes, from {self.source}'
    )


def _stratified_subset(labels, size, rng):
  """Sorted indices of `size` items, each class in proportion, picked by `rng`.

  Items are ranked within their class in a random order, and each class's
  ranks spread evenly over [0, 1], so any prefix of the merged order holds the
  classes in proportion.
  """
  order = rng.permutation(len(labels))
  shuffled = labels[order]
  counts = np.bincount(shuffled)
  by_class = np.argsort(shuffled, kind='stable')
  rank = np.empty(len(labels), np.int64)
  rank[by_class] = np.arange(len(labels)) - np.repeat(np.cumsum(counts) - counts, counts)
  spread = (rank + 0.5) / counts[shuffled]
  return np.sort(order[np.argsort(spread, kind='stable')[:size]])


def _as_float_images(images):
  """uint8 images as float32 in [0, 1], in aligned read-only memory (data/aligned.py)."""
  x = aligned.empty(images.shape, np.float32)
  np.divide(images, np.float32(255.0), out=x, dtype=np.float32)
  x = x[..., None] if x.ndim == 3 else x
  x.flags.writeable = False
  return x


def _check_sizes(validation_size, train_subset, test_subset):
  for arg, value, least in (
    ('validation_size', validation_size, 0),
    ('train_subset', train_subset, 1),
    ('test_subset', test_subset, 1),
  ):
    if value is not None and (not isinstance(value, (int, np.integer)) or value < least):
      raise DataError(
        f'{arg}={value!r} is not a valid size; it must be an integer of at least {least}.'
      )


def _standin_for(name, reason):
  shape = '32x32x3 (grey in colour channels)' if name == cifar10.NAME else '28x28'
  logging.warning(
    '#' * 72 + '\nUSING STAND-IN DATA: %s was not found, so this run uses '
    "scikit-learn's 8x8 digits upscaled to %s instead. Its results say "
    'nothing about %s. Why: %s\n' + '#' * 72,
    name,
    shape,
    name,
    reason,
  )
  if name == cifar10.NAME:
    return digits.load_digits_32x32x3()
  return digits.load_digits_28x28()


def load(
  name: str,
  *,
  data_dir: str | None = None,
  validation_size: int = 5000,
  train_subset: int | None = None,
  test_subset: int | None = None,
  seed: int = 0,
  download: bool = True,
  allow_standin: bool = False,
  num_samples: int = 500,
  noise: float = 0.0,
  train_fraction: float = 0.5,
) -> Dataset:
  """Loads 'mnist', 'fashion_mnist', 'cifar10', 'digits' or a 2-D problem, with a validation set.

  The validation set is the first `validation_size` images of the training
  set permuted by `np.random.default_rng(seed)`; training keeps the rest, so
  the split depends on `seed` alone. `validation_size` is capped at a fifth of
  the training set (with a warning), which only the small digits set reaches.
  `train_subset` and `test_subset` take seeded class-stratified subsets for
  quick runs. Where the data is looked for is described in `data.sources` (CIFAR-10:
  `data.cifar10`);
  with `allow_standin`, a dataset found nowhere is replaced by the digits,
  loudly. The 2-D problems (`data.toy2d`) generate `num_samples` points with
  `noise` from `seed`, split `train_fraction` of them into train and the rest
  into test, and draw `validation_size` fresh points for validation; the
  logic gates hold their four points in every split. 'cifar10_generated' writes
  `num_samples` generated images (`train_fraction` of them for training) as CIFAR-10 files
  and reads them back: the file format and shapes of CIFAR-10, not its images.
  Raises DataError for any problem, with the fix in its message.
  """
  if name not in NAMES:
    raise DataError(f'Unknown dataset {name!r}; known datasets are {", ".join(NAMES)}.')
  _check_sizes(validation_size, train_subset, test_subset)
  if name == blobs.NAME:
    return _load_blobs(
      num_samples=num_samples,
      train_fraction=train_fraction,
      validation_size=validation_size,
      seed=seed,
    )
  if name in toy2d.NAMES:
    return _load_toy2d(
      name,
      num_samples=num_samples,
      noise=noise,
      train_fraction=train_fraction,
      validation_size=validation_size,
      train_subset=train_subset,
      test_subset=test_subset,
      seed=seed,
    )
  standin = False
  if name == 'digits':
    found = digits.load_digits_28x28()
  elif name == cifar10.GENERATED:
    train = round(num_samples * train_fraction)
    found = cifar10.generated_files(seed, train, num_samples - train)
  else:
    try:
      if name == cifar10.NAME:
        found = cifar10.find(data_dir=data_dir, download=download)
      else:
        found = sources.find(name, data_dir=data_dir, download=download)
    except DataNotFoundError as e:
      if not allow_standin:
        raise
      found, standin = _standin_for(name, e), True

  num_train = len(found.train_labels)
  max_validation = int(num_train * MAX_VALIDATION_FRACTION)
  if validation_size > max_validation:
    logging.warning(
      'validation_size=%d is over a fifth of the %d training images of %s; using %d.',
      validation_size,
      num_train,
      found.source,
      max_validation,
    )
    validation_size = max_validation
  permutation = np.random.default_rng(seed).permutation(num_train)
  val_idx = permutation[:validation_size]
  train_idx = permutation[validation_size:]
  if train_subset is not None and train_subset < len(train_idx):
    train_idx = train_idx[
      _stratified_subset(
        found.train_labels[train_idx], train_subset, np.random.default_rng([seed, 1])
      )
    ]
  test_idx = np.arange(len(found.test_labels))
  if test_subset is not None and test_subset < len(test_idx):
    test_idx = _stratified_subset(found.test_labels, test_subset, np.random.default_rng([seed, 2]))

  def split(images, labels, idx):
    return _as_float_images(images[idx]), labels[idx].astype(np.int32)

  source = found.source
  if standin:
    source = f'STAND-IN for {name}: {source}'
  return Dataset(
    *split(found.train_images, found.train_labels, train_idx),
    *split(found.train_images, found.train_labels, val_idx),
    *split(found.test_images, found.test_labels, test_idx),
    num_classes=sources.NUM_CLASSES,
    name=name,
    source=source,
    standin=standin,
    kind='images of ' + 'x'.join(map(str, _as_float_images(found.train_images[:1]).shape[1:])),
  )


def _load_toy2d(
  name, *, num_samples, noise, train_fraction, validation_size, train_subset, test_subset, seed
):
  if name in toy2d.GATES:
    x, y = toy2d.gate(name)
    return Dataset(
      x,
      y,
      x,
      y,
      x,
      y,
      num_classes=2,
      name=name,
      source=f'the truth table of {name} (all four inputs in every split)',
      standin=False,
      kind='2-D points',
    )
  if not 0.0 <= noise <= toy2d.MAX_NOISE:
    raise DataError(
      f'noise={noise!r} is outside [0, {toy2d.MAX_NOISE}] (the '
      "playground's 0-50% slider); pass e.g. noise=0.1."
    )
  train = round(num_samples * train_fraction)
  if not 0.0 < train_fraction < 1.0 or train < 2 or num_samples - train < 2:
    raise DataError(
      f'num_samples={num_samples!r} with train_fraction={train_fraction!r} '
      'leaves fewer than 2 points for train or test; pass e.g. '
      'num_samples=500 and train_fraction=0.5.'
    )
  train_x, train_y, val_x, val_y, test_x, test_y = toy2d.splits(
    name,
    num_samples=num_samples,
    noise=noise,
    train_fraction=train_fraction,
    validation_size=validation_size,
    seed=seed,
  )
  return Dataset(
    train_x[:train_subset],
    train_y[:train_subset],
    val_x,
    val_y,
    test_x[:test_subset],
    test_y[:test_subset],
    num_classes=2,
    name=name,
    source=f"generated (TensorFlow Playground's {name}, noise {noise:g}, seed {seed})",
    standin=False,
    kind='2-D points',
  )


def _load_blobs(*, num_samples, train_fraction, validation_size, seed):
  """Three gaussian blobs (`data.blobs`), split like the 2-D problems."""
  if (
    not 0.0 < train_fraction < 1.0
    or min(num_samples * train_fraction, num_samples * (1 - train_fraction)) < 2
  ):
    raise DataError(
      f'num_samples={num_samples!r} with train_fraction={train_fraction!r} '
      'leaves fewer than 2 points for train or test; pass e.g. '
      'num_samples=1000 and train_fraction=0.5.'
    )
  return Dataset(
    *blobs.splits(
      num_samples=num_samples,
      train_fraction=train_fraction,
      validation_size=validation_size,
      seed=seed,
    ),
    num_classes=blobs.NUM_CLASSES,
    name=blobs.NAME,
    source=f'generated (scikit-learn make_blobs, 3 centers, std '
    f'{blobs.CLUSTER_STD:g}, seed {seed})',
    standin=False,
    kind='2-D points',
  )
