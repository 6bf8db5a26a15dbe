"""Finding MNIST and Fashion-MNIST on this machine, or downloading them.

Places are tried in order, cheapest and most explicit first:
  1. `data_dir` (from the experiment config), then `$JAX_FINDINGS_DATA`: a
     directory holding `<name>/` with the four standard IDX files;
  2. a TFDS dataset prepared in `$TFDS_DATA_DIR` or `~/tensorflow_datasets`;
  3. the Debian package's directory (Fashion-MNIST only);
  4. the download cache, filled from TFDS's own URLs if downloading is allowed.
"""

import functools
import os
from typing import NamedTuple

import numpy as np
from absl import logging

from data import download as download_lib
from data.errors import DataError, DataNotFoundError
from data.idx import read_idx

NAMES = ('mnist', 'fashion_mnist')
DATA_ENV_VAR = 'JAX_FINDINGS_DATA'
IDX_FILES = (
  'train-images-idx3-ubyte',
  'train-labels-idx1-ubyte',
  't10k-images-idx3-ubyte',
  't10k-labels-idx1-ubyte',
)
DEBIAN_DIRS = {'fashion_mnist': '/usr/share/datasets/fashion-mnist'}
DEBIAN_PACKAGES = {'fashion_mnist': 'dataset-fashion-mnist'}
IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10


class SourceData(NamedTuple):
  """A dataset as stored: uint8 images (N, 28, 28), labels (N,), and origin."""

  train_images: np.ndarray
  train_labels: np.ndarray
  test_images: np.ndarray
  test_labels: np.ndarray
  source: str


@functools.lru_cache(maxsize=16)
def _read_idx_version(path, mtime_ns, size):
  del mtime_ns, size
  return read_idx(path)


def _read_idx_cached(path):
  """read_idx, memoised per file version since runs and tests reload often."""
  stat = os.stat(path)
  return _read_idx_version(path, stat.st_mtime_ns, stat.st_size)


def _check_pair(images, labels, images_path, labels_path):
  if images.dtype != np.uint8 or images.shape[1:] != IMAGE_SHAPE:
    raise DataError(
      f'IDX file {images_path} holds a {images.dtype} array of '
      f'shape {images.shape}, not uint8 images of shape '
      f'(N, 28, 28); it is not an MNIST-format image file.'
    )
  if labels.dtype != np.uint8 or labels.ndim != 1:
    raise DataError(
      f'IDX file {labels_path} holds a {labels.dtype} array of '
      f'shape {labels.shape}, not uint8 labels of shape (N,); it '
      'is not an MNIST-format label file.'
    )
  if len(images) != len(labels):
    raise DataError(
      f'IDX files {images_path} and {labels_path} disagree: '
      f'{len(images)} images but {len(labels)} labels; one of '
      'them is from another dataset or version.'
    )
  if labels.size and labels.max() >= NUM_CLASSES:
    raise DataError(
      f'IDX file {labels_path} holds label {labels.max()}, but '
      f'labels must be below {NUM_CLASSES}; it is not an '
      'MNIST-format label file.'
    )


def _idx_paths(directory):
  """The four IDX files in `directory`, each gzipped or raw."""
  paths, missing = [], []
  for base in IDX_FILES:
    found = [
      p
      for p in (os.path.join(directory, base + '.gz'), os.path.join(directory, base))
      if os.path.isfile(p)
    ]
    if found:
      paths.append(found[0])
    else:
      missing.append(base + '[.gz]')
  return paths, missing


def read_idx_dir(directory: str, source: str | None = None) -> SourceData:
  """Reads and checks the four standard IDX files in `directory`."""
  paths, missing = _idx_paths(directory)
  if missing:
    raise DataError(
      f'Directory {directory} lacks {", ".join(missing)}; it '
      f'must hold all four of {", ".join(IDX_FILES)}, each '
      'gzipped (.gz) or raw.'
    )
  arrays = [_read_idx_cached(p) for p in paths]
  _check_pair(arrays[0], arrays[1], paths[0], paths[1])
  _check_pair(arrays[2], arrays[3], paths[2], paths[3])
  return SourceData(*arrays, source=source or f'IDX files in {directory}')


def _tfds_data_dir():
  return os.environ.get('TFDS_DATA_DIR') or os.path.join(
    os.path.expanduser('~'), 'tensorflow_datasets'
  )


def _read_tfds(name, tfds_dir):
  """Reads a prepared TFDS dataset without TensorFlow, via its data source."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  train, test = tfds.data_source(name, split=['train', 'test'], data_dir=tfds_dir, download=False)
  arrays = []
  for split in (train, test):
    records = split.__getitems__(range(len(split)))
    arrays.append(np.stack([r['image'] for r in records])[..., 0])
    arrays.append(np.array([r['label'] for r in records], np.uint8))
  return SourceData(*arrays, source=f'TFDS prepared dataset {name} in {tfds_dir}')


@functools.lru_cache(maxsize=2)
def _tfds_cached(name, tfds_dir):
  return _read_tfds(name, tfds_dir)


def _try_tfds(name, looked):
  tfds_dir = _tfds_data_dir()
  if not os.path.isdir(os.path.join(tfds_dir, name)):
    looked.append(f'TFDS data dir {tfds_dir} (no {name}/ prepared there)')
    return None
  try:
    data = _tfds_cached(name, tfds_dir)
  except Exception as e:  # pylint: disable=broad-except
    # TFDS signals an unprepared, partial or tfrecord-only dataset with
    # assorted exception types; any of them just means "not usable here".
    logging.warning(
      'TFDS has %s in %s but it cannot be read without '
      'TensorFlow (%s: %s); it needs to be prepared with '
      "file_format='array_record'.",
      name,
      tfds_dir,
      type(e).__name__,
      e,
    )
    looked.append(f'TFDS data dir {tfds_dir} ({name}/ there is unreadable: {type(e).__name__})')
    return None
  for i in (0, 2):
    _check_pair(data[i], data[i + 1], f'{data.source} images', f'{data.source} labels')
  return data


def _how_to_provide(name):
  files = ', '.join(f'{name}/{f}.gz' for f in IDX_FILES)
  fix = (
    f"set {DATA_ENV_VAR} (or the config's data_dir) to a directory holding {files} (gzipped or raw)"
  )
  if name in DEBIAN_PACKAGES:
    fix += f', or run `apt-get install {DEBIAN_PACKAGES[name]}` (which fills {DEBIAN_DIRS[name]})'
  fix += (
    f', or prepare it with TFDS in array_record format, or allow the '
    f'download from {download_lib.BASE_URLS[name]}'
  )
  return fix


def find(name: str, *, data_dir: str | None = None, download: bool = True) -> SourceData:
  """Returns `name` ('mnist' or 'fashion_mnist') from the first place with it.

  Raises DataNotFoundError listing every place tried and how to provide the
  data, or DataError if a place has it but its files are broken.
  """
  if name not in NAMES:
    raise DataError(f'Unknown dataset {name!r}; sources exist for {", ".join(NAMES)}.')
  looked = []
  env_dir = os.environ.get(DATA_ENV_VAR)
  for label, directory in (('data_dir', data_dir), (f'${DATA_ENV_VAR}', env_dir)):
    if not directory:
      if label != 'data_dir':
        looked.append(f'{label} (not set)')
      continue
    if os.path.isdir(os.path.join(directory, name)):
      return read_idx_dir(os.path.join(directory, name))
    looked.append(f'{label} {directory} (no {name}/ there)')

  data = _try_tfds(name, looked)
  if data is not None:
    return data

  debian_dir = DEBIAN_DIRS.get(name)
  if debian_dir:
    if os.path.isdir(debian_dir):
      return read_idx_dir(
        debian_dir, f'IDX files in {debian_dir} (Debian package {DEBIAN_PACKAGES[name]})'
      )
    looked.append(f'{debian_dir} (package {DEBIAN_PACKAGES[name]} not installed)')

  cache = download_lib.cache_dir(name)
  downloaded = f'IDX files in {cache} (downloaded from {download_lib.BASE_URLS[name]})'
  if not _idx_paths(cache)[1]:
    return read_idx_dir(cache, downloaded)
  if download:
    try:
      download_lib.download(name)
    except DataError as e:
      looked.append(f'a download into {cache} ({e})')
    else:
      return read_idx_dir(cache, downloaded)
  else:
    looked.append(f'the download cache {cache} (incomplete; downloading disabled)')
  raise DataNotFoundError(
    f'Dataset {name} was not found. Looked at: {"; ".join(looked)}. To '
    f'provide it, {_how_to_provide(name)}.'
  )
