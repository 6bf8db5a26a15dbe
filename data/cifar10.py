"""CIFAR-10 as its authors distribute it: the python-pickle and the binary versions.

Both tarballs extract to a directory of five training batches and a test batch:

  cifar-10-batches-py/   data_batch_1 .. data_batch_5, test_batch, batches.meta: pickles (written
                         by Python 2) of a dict with b'data' (N, 3072) uint8, each row the red,
                         green and blue 32x32 planes, and b'labels' (N ints 0-9);
  cifar-10-batches-bin/  data_batch_1.bin .. data_batch_5.bin, test_batch.bin, batches.meta.txt:
                         records of 3073 bytes, a label byte then the same 3072 pixel bytes.

Places are tried in order, as for MNIST (data/sources.py): `data_dir`, then `$JAX_FINDINGS_DATA`
(each holding one of those directories, directly or under `cifar10/`, or being one), a TFDS
`cifar10` prepared as array_record, then the download cache, filled with the binary version from
the authors' site, checked against the sha256 TFDS records for it. The writers below produce
the same files, for tests and for a quick run on generated images.
"""

import functools
import os
import pickle
import shutil
import tarfile
import tempfile

import numpy as np
from absl import logging

from data import download as download_lib
from data.errors import DataError, DataNotFoundError
from data.sources import DATA_ENV_VAR, SourceData

NAME = 'cifar10'
IMAGE_SHAPE = (32, 32, 3)
NUM_CLASSES = 10
PIXELS = 32 * 32 * 3
RECORD_BYTES = 1 + PIXELS
LABEL_NAMES = (
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
)
TRAIN_BATCHES = tuple(f'data_batch_{i}' for i in range(1, 6))
TEST_BATCH = 'test_batch'
PY_DIR, BIN_DIR = 'cifar-10-batches-py', 'cifar-10-batches-bin'
ARCHIVE = 'cifar-10-binary.tar.gz'


def _planes_to_images(rows):
  """(N, 3072) rows of R, G, B planes -> (N, 32, 32, 3) images."""
  return rows.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)


def _images_to_planes(images):
  return np.ascontiguousarray(images.transpose(0, 3, 1, 2)).reshape(len(images), PIXELS)


def _check_labels(labels, path):
  if labels.size and labels.max() >= NUM_CLASSES:
    raise DataError(
      f'CIFAR-10 batch {path} holds label {labels.max()}, but labels must be below '
      f'{NUM_CLASSES}; the file is corrupt or from another dataset (CIFAR-100?). Replace it '
      'with the file from the original tarball.'
    )


def read_pickle_batch(path: str) -> tuple[np.ndarray, np.ndarray]:
  """(images uint8 (N, 32, 32, 3), labels uint8 (N,)) of one python-version batch file."""
  try:
    with open(path, 'rb') as f:
      batch = pickle.load(f, encoding='bytes')
  except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as e:
    raise DataError(
      f'CIFAR-10 batch {path} is not a readable pickle ({type(e).__name__}: {e}); it is '
      'truncated or corrupt. Extract it again from cifar-10-python.tar.gz.'
    ) from None
  if not isinstance(batch, dict) or b'data' not in batch or b'labels' not in batch:
    keys = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
    raise DataError(
      f"CIFAR-10 batch {path} lacks the keys b'data' and b'labels' (it holds {keys}); it is "
      'not a batch of the python version of CIFAR-10.'
    )
  rows, labels = np.asarray(batch[b'data']), np.asarray(batch[b'labels'])
  if rows.dtype != np.uint8 or rows.ndim != 2 or rows.shape[1] != PIXELS:
    raise DataError(
      f"CIFAR-10 batch {path} has b'data' of {rows.dtype} {rows.shape}, not uint8 rows of "
      f'{PIXELS} pixels; the file is corrupt or from another dataset.'
    )
  if labels.ndim != 1 or len(labels) != len(rows):
    raise DataError(
      f"CIFAR-10 batch {path} has {len(rows)} images but b'labels' of shape {labels.shape}; "
      'the file is corrupt.'
    )
  labels = labels.astype(np.int64)
  if labels.size and labels.min() < 0:
    raise DataError(f'CIFAR-10 batch {path} holds a negative label; the file is corrupt.')
  _check_labels(labels, path)
  return _planes_to_images(rows), labels.astype(np.uint8)


def read_binary_batch(path: str) -> tuple[np.ndarray, np.ndarray]:
  """(images, labels) of one binary-version batch file of 3073-byte records."""
  raw = np.fromfile(path, np.uint8)
  if raw.size == 0 or raw.size % RECORD_BYTES:
    raise DataError(
      f'CIFAR-10 batch {path} has {raw.size} bytes, not a whole number of {RECORD_BYTES}-byte '
      f'records ({raw.size // RECORD_BYTES} records and {raw.size % RECORD_BYTES} bytes over); '
      'it is truncated or corrupt. Extract it again from cifar-10-binary.tar.gz.'
    )
  records = raw.reshape(-1, RECORD_BYTES)
  labels = records[:, 0]
  _check_labels(labels, path)
  return _planes_to_images(records[:, 1:]), labels


def _batch_paths(directory):
  """('py' | 'bin', train paths, test path) of a batches dir, or None if it lacks a file."""
  for kind, suffix in (('py', ''), ('bin', '.bin')):
    names = [b + suffix for b in TRAIN_BATCHES + (TEST_BATCH,)]
    paths = [os.path.join(directory, n) for n in names]
    if all(os.path.isfile(p) for p in paths):
      return kind, paths[:-1], paths[-1]
  return None


@functools.lru_cache(maxsize=2)
def _read_dir_version(directory, stamp):
  del stamp
  kind, train_paths, test_path = _batch_paths(directory)
  read = read_pickle_batch if kind == 'py' else read_binary_batch
  train = [read(p) for p in train_paths]
  test_images, test_labels = read(test_path)
  arrays = (
    np.concatenate([t[0] for t in train]),
    np.concatenate([t[1] for t in train]),
    test_images,
    test_labels,
  )
  for a in arrays:
    a.flags.writeable = False
  version = 'python' if kind == 'py' else 'binary'
  return SourceData(*arrays, source=f'CIFAR-10 ({version} version) in {directory}')


def read_dir(directory: str) -> SourceData:
  """Reads a `cifar-10-batches-py` or `cifar-10-batches-bin` directory; DataError if incomplete."""
  found = _batch_paths(directory)
  if found is None:
    raise DataError(
      f'Directory {directory} holds neither all of {", ".join(TRAIN_BATCHES)}, {TEST_BATCH} '
      f'(the python version, {PY_DIR}/) nor the same names with .bin (the binary version, '
      f'{BIN_DIR}/); extract the CIFAR-10 tarball there again.'
    )
  stamp = tuple((os.stat(p).st_mtime_ns, os.stat(p).st_size) for p in (*found[1], found[2]))
  return _read_dir_version(os.path.abspath(directory), stamp)


def batches_dir(root: str) -> str | None:
  """The CIFAR-10 batches directory at or under `root` (`root` itself, `root/cifar10/...`)."""
  for candidate in (
    root,
    os.path.join(root, PY_DIR),
    os.path.join(root, BIN_DIR),
    os.path.join(root, NAME),
    os.path.join(root, NAME, PY_DIR),
    os.path.join(root, NAME, BIN_DIR),
  ):
    if os.path.isdir(candidate) and _batch_paths(candidate) is not None:
      return candidate
  return None


def _read_tfds(tfds_dir):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  splits = tfds.data_source(NAME, split=['train', 'test'], data_dir=tfds_dir, download=False)
  arrays = []
  for split in splits:
    records = split.__getitems__(range(len(split)))
    arrays.append(np.stack([r['image'] for r in records]).astype(np.uint8))
    arrays.append(np.array([r['label'] for r in records], np.uint8))
  return SourceData(*arrays, source=f'TFDS prepared dataset {NAME} in {tfds_dir}')


def _try_tfds(looked):
  tfds_dir = os.environ.get('TFDS_DATA_DIR') or os.path.join(
    os.path.expanduser('~'), 'tensorflow_datasets'
  )
  if not os.path.isdir(os.path.join(tfds_dir, NAME)):
    looked.append(f'TFDS data dir {tfds_dir} (no {NAME}/ prepared there)')
    return None
  try:
    data = _read_tfds(tfds_dir)
  except Exception as e:  # pylint: disable=broad-except
    # As in data/sources.py: any TFDS failure means "not usable without TensorFlow".
    logging.warning('TFDS has %s in %s but it cannot be read (%s: %s).', NAME, tfds_dir, type(e), e)
    looked.append(f'TFDS data dir {tfds_dir} ({NAME}/ there is unreadable: {type(e).__name__})')
    return None
  if data.train_images.shape[1:] != IMAGE_SHAPE:
    raise DataError(f'TFDS {NAME} in {tfds_dir} holds images of shape {data.train_images.shape}.')
  return data


def _extracted(cache):
  """The batches dir in the download cache, extracting the verified tarball if needed."""
  directory = batches_dir(cache)
  archive = os.path.join(cache, ARCHIVE)
  if directory is None and os.path.isfile(archive):
    with tarfile.open(archive) as tar:
      tar.extractall(cache, filter='data')
    directory = batches_dir(cache)
  return directory


def how_to_provide() -> str:
  return (
    f'put the extracted CIFAR-10 directory ({PY_DIR}/ from cifar-10-python.tar.gz, or {BIN_DIR}/ '
    f'from {ARCHIVE}, both at {download_lib.BASE_URLS[NAME]}) in a directory and set '
    f"{DATA_ENV_VAR} (or --config.dataset.data_dir) to it, or prepare TFDS's {NAME} in "
    f'array_record format, or allow the download ({ARCHIVE}, 170 MB, into '
    f'{download_lib.cache_dir(NAME)})'
  )


def find(*, data_dir: str | None = None, download: bool = True) -> SourceData:
  """CIFAR-10 from the first place that has it; DataNotFoundError naming where to put it."""
  looked = []
  for label, root in (('data_dir', data_dir), (f'${DATA_ENV_VAR}', os.environ.get(DATA_ENV_VAR))):
    if not root:
      if label != 'data_dir':
        looked.append(f'{label} (not set)')
      continue
    directory = batches_dir(root)
    if directory is not None:
      return read_dir(directory)
    looked.append(f'{label} {root} (no {PY_DIR}/ or {BIN_DIR}/ there)')
  data = _try_tfds(looked)
  if data is not None:
    return data
  cache = download_lib.cache_dir(NAME)
  directory = _extracted(cache)
  if directory is None and download:
    try:
      download_lib.download(NAME)
    except DataError as e:
      looked.append(f'a download into {cache} ({e})')
    directory = _extracted(cache)
  elif directory is None:
    looked.append(f'the download cache {cache} (empty; downloading disabled)')
  if directory is not None:
    return read_dir(directory)
  raise DataNotFoundError(
    f'Dataset {NAME} was not found. Looked at: {"; ".join(looked)}. To provide it, '
    f'{how_to_provide()}.'
  )


# ------------------------------------------------------------------ writers (tests, quick runs)


def write_pickle_batch(path, images, labels, batch_label='batch') -> None:
  """One python-version batch file, with the keys the real ones have."""
  batch = {
    b'batch_label': batch_label.encode(),
    b'labels': [int(x) for x in labels],
    b'data': _images_to_planes(np.asarray(images, np.uint8)),
    b'filenames': [f'image_{i:05d}.png'.encode() for i in range(len(labels))],
  }
  with open(path, 'wb') as f:
    pickle.dump(batch, f, protocol=2)


def write_binary_batch(path, images, labels) -> None:
  """One binary-version batch file: a label byte and 3072 pixel bytes per image."""
  records = np.concatenate(
    [np.asarray(labels, np.uint8)[:, None], _images_to_planes(np.asarray(images, np.uint8))], 1
  )
  records.tofile(path)


def write_dir(directory, data: SourceData, kind='py') -> str:
  """Writes `data` as a CIFAR-10 batches dir (`kind` 'py' or 'bin') in `directory`; returns it.

  The training images are dealt into the five batches in order, as in the real files.
  """
  out = os.path.join(directory, PY_DIR if kind == 'py' else BIN_DIR)
  os.makedirs(out, exist_ok=True)
  parts = np.array_split(np.arange(len(data.train_labels)), len(TRAIN_BATCHES))
  batches = [(b, data.train_images[p], data.train_labels[p]) for b, p in zip(TRAIN_BATCHES, parts)]
  batches.append((TEST_BATCH, data.test_images, data.test_labels))
  for name, images, labels in batches:
    if kind == 'py':
      write_pickle_batch(os.path.join(out, name), images, labels, f'{name} of generated data')
    else:
      write_binary_batch(os.path.join(out, name + '.bin'), images, labels)
  if kind == 'py':
    meta = {
      b'num_cases_per_batch': len(parts[0]),
      b'label_names': [n.encode() for n in LABEL_NAMES],
      b'num_vis': PIXELS,
    }
    with open(os.path.join(out, 'batches.meta'), 'wb') as f:
      pickle.dump(meta, f, protocol=2)
  else:
    with open(os.path.join(out, 'batches.meta.txt'), 'w') as f:
      f.write('\n'.join(LABEL_NAMES) + '\n')
  return out


def generate(seed: int, train_size: int, test_size: int) -> SourceData:
  """Learnable 32x32x3 images: each class a colour and a stripe orientation, plus noise.

  Not CIFAR-10: it only gives a quick run something to learn, in the real shapes and files.
  """
  rng = np.random.default_rng(seed)
  colours = rng.uniform(40, 215, (NUM_CLASSES, 3))
  yy, xx = np.mgrid[:32, :32]

  def split(n):
    labels = np.arange(n) % NUM_CLASSES
    rng.shuffle(labels)
    angle = labels[:, None, None] * np.pi / NUM_CLASSES
    stripes = 30 * np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 0.8)
    images = colours[labels][:, None, None, :] + stripes[..., None]
    images = images + rng.normal(0, 25, images.shape)
    return np.clip(np.round(images), 0, 255).astype(np.uint8), labels.astype(np.uint8)

  return SourceData(*split(train_size), *split(test_size), source=f'generated (seed {seed})')


GENERATED = 'cifar10_generated'


def generated_files(seed: int, train_size: int, test_size: int) -> SourceData:
  """`generate`'s images written as python-version batches (in the cache) and read back.

  The quick run's data: the real reader on real-format files, in seconds, with no download.
  """
  if train_size < NUM_CLASSES or test_size < 1:
    raise DataError(
      f'{GENERATED} needs at least {NUM_CLASSES} training images and 1 test image; got '
      f'{train_size} and {test_size}. Raise dataset.num_samples or change train_fraction.'
    )
  root = download_lib.cache_dir(GENERATED)
  directory = os.path.join(root, f'seed{seed}-train{train_size}-test{test_size}')
  if batches_dir(directory) is None:
    os.makedirs(root, exist_ok=True)
    staging = tempfile.mkdtemp(prefix='.staging-', dir=root)
    write_dir(staging, generate(seed, train_size, test_size), 'py')
    try:
      os.rename(staging, directory)
    except OSError:  # another process got there first, or a broken leftover is in the way
      shutil.rmtree(staging, ignore_errors=True)
      if batches_dir(directory) is None:
        raise DataError(
          f'{directory} exists but holds no complete CIFAR-10 batches; delete it.'
        ) from None
  found = read_dir(batches_dir(directory))
  return found._replace(
    source=(
      f'NOT CIFAR-10: images generated by data/cifar10.py (seed {seed}), written as CIFAR-10 '
      f'python batches to {directory} and read back'
    )
  )
