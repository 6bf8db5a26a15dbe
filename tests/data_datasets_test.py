"""Tests for data.load: real MNIST, where data is looked for, and the stand-in.

The network is never touched: every test runs with `download.fetch` replaced.
"""

import hashlib
import logging
import os
import shutil
import time

import numpy as np
import pytest

import data
from data import download, sources
from data.errors import DataError, DataNotFoundError
from data.idx import read_idx, write_idx

# From shared/datasets/README.md.
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
DEBIAN_FASHION_DIR = sources.DEBIAN_DIRS['fashion_mnist']
REAL_FETCH = download.fetch


def _offline_fetch(url, path, timeout):
  raise OSError(f'network disabled in tests (asked for {url})')


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
  """No env var, an empty TFDS dir and cache, and no network."""
  monkeypatch.delenv(sources.DATA_ENV_VAR, raising=False)
  monkeypatch.setenv('TFDS_DATA_DIR', str(tmp_path / 'tfds'))
  monkeypatch.setenv(download.CACHE_ENV_VAR, str(tmp_path / 'cache'))
  monkeypatch.setattr(download, 'fetch', _offline_fetch)


@pytest.fixture
def mnist_env(monkeypatch, shared_datasets):
  monkeypatch.setenv(sources.DATA_ENV_VAR, shared_datasets)
  return shared_datasets


def _write_fake_mnist(directory, num_train=50, num_test=20, value=7, gz=True):
  """Writes tiny MNIST-format files, every pixel `value` to tell them apart."""
  os.makedirs(directory, exist_ok=True)
  suffix = '.gz' if gz else ''
  for prefix, n in (('train', num_train), ('t10k', num_test)):
    write_idx(
      os.path.join(directory, f'{prefix}-images-idx3-ubyte{suffix}'),
      np.full((n, 28, 28), value, np.uint8),
    )
    write_idx(
      os.path.join(directory, f'{prefix}-labels-idx1-ubyte{suffix}'),
      (np.arange(n) % 10).astype(np.uint8),
    )
  return str(directory)


def test_mnist_shapes_types_and_range(mnist_env):
  ds = data.load('mnist')
  assert ds.train_x.shape == (55000, 28, 28, 1)
  assert ds.val_x.shape == (5000, 28, 28, 1)
  assert ds.test_x.shape == (10000, 28, 28, 1)
  for x in (ds.train_x, ds.val_x, ds.test_x):
    assert x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0
  for y in (ds.train_y, ds.val_y, ds.test_y):
    assert y.dtype == np.int32
  assert (ds.num_classes, ds.name, ds.standin) == (10, 'mnist', False)
  assert ds.source == f'IDX files in {os.path.join(mnist_env, "mnist")}'
  assert '55000 train / 5000 val / 10000 test' in ds.describe()


def test_mnist_label_counts_match_readme(mnist_env):
  ds = data.load('mnist')
  assert np.bincount(ds.test_y).tolist() == MNIST_TEST_COUNTS
  train_and_val = np.concatenate([ds.train_y, ds.val_y])
  assert np.bincount(train_and_val).tolist() == MNIST_TRAIN_COUNTS


def test_validation_is_the_seeded_permutations_head(mnist_env):
  ds = data.load('mnist', validation_size=1000, seed=3, test_subset=10)
  labels = read_idx(os.path.join(mnist_env, 'mnist', 'train-labels-idx1-ubyte.gz'))
  images = read_idx(os.path.join(mnist_env, 'mnist', 'train-images-idx3-ubyte.gz'))
  permutation = np.random.default_rng(3).permutation(60000)
  np.testing.assert_array_equal(ds.val_y, labels[permutation[:1000]])
  np.testing.assert_array_equal(ds.train_y, labels[permutation[1000:]])
  np.testing.assert_array_equal(np.round(ds.val_x[..., 0] * 255), images[permutation[:1000]])
  np.testing.assert_array_equal(
    np.round(ds.train_x[:2000, ..., 0] * 255), images[permutation[1000:3000]]
  )


def test_validation_split_is_deterministic_per_seed(mnist_env):
  kwargs = dict(validation_size=500, train_subset=100, test_subset=10)
  first = data.load('mnist', seed=1, **kwargs)
  again = data.load('mnist', seed=1, **kwargs)
  other = data.load('mnist', seed=2, **kwargs)
  np.testing.assert_array_equal(first.val_x, again.val_x)
  np.testing.assert_array_equal(first.train_y, again.train_y)
  assert not np.array_equal(first.val_x, other.val_x)


def test_subsets_are_deterministic_stratified_and_drawn_from_the_split(mnist_env):
  full = data.load('mnist', seed=0)
  sub = data.load('mnist', train_subset=1000, test_subset=500, seed=0)
  again = data.load('mnist', train_subset=1000, test_subset=500, seed=0)
  assert len(sub.train_x) == 1000 and len(sub.test_x) == 500
  assert len(sub.val_x) == 5000
  np.testing.assert_array_equal(sub.train_x, again.train_x)
  np.testing.assert_array_equal(sub.test_y, again.test_y)
  np.testing.assert_array_equal(sub.val_x, full.val_x)
  expected = np.bincount(full.train_y) * 1000 / len(full.train_y)
  assert np.all(np.abs(np.bincount(sub.train_y) - expected) <= 1)
  expected = np.array(MNIST_TEST_COUNTS) * 500 / 10000
  assert np.all(np.abs(np.bincount(sub.test_y) - expected) <= 1)
  full_rows = {x.tobytes() for x in full.train_x}
  assert all(x.tobytes() in full_rows for x in sub.train_x)
  other = data.load('mnist', train_subset=1000, seed=1)
  assert not np.array_equal(sub.train_x, other.train_x)


def test_explicit_data_dir_wins_over_env_var(mnist_env, tmp_path):
  _write_fake_mnist(tmp_path / 'mine' / 'mnist', gz=False)
  ds = data.load('mnist', data_dir=str(tmp_path / 'mine'), validation_size=5)
  assert (len(ds.train_x), len(ds.val_x), len(ds.test_x)) == (45, 5, 20)
  assert np.all(ds.train_x == np.float32(7 / 255))
  assert str(tmp_path / 'mine') in ds.source


def test_data_dir_without_the_dataset_falls_through_to_env(mnist_env, tmp_path):
  ds = data.load('mnist', data_dir=str(tmp_path), test_subset=10)
  assert ds.source == f'IDX files in {os.path.join(mnist_env, "mnist")}'


def test_incomplete_dataset_dir_names_the_missing_file(tmp_path):
  directory = _write_fake_mnist(tmp_path / 'mnist')
  os.remove(os.path.join(directory, 't10k-labels-idx1-ubyte.gz'))
  with pytest.raises(DataError, match='t10k-labels-idx1-ubyte'):
    data.load('mnist', data_dir=str(tmp_path), download=False)


def test_mismatched_files_are_reported(tmp_path):
  directory = _write_fake_mnist(tmp_path / 'mnist')
  write_idx(os.path.join(directory, 'train-labels-idx1-ubyte.gz'), np.zeros(49, np.uint8))
  with pytest.raises(DataError, match='50 images but 49 labels'):
    data.load('mnist', data_dir=str(tmp_path), download=False)


def test_missing_dataset_says_where_it_looked_and_how_to_provide_it(tmp_path):
  start = time.monotonic()
  with pytest.raises(DataNotFoundError) as error:
    data.load('mnist', data_dir=str(tmp_path), download=False)
  assert time.monotonic() - start < 1.0
  message = str(error.value)
  for expected in (
    str(tmp_path),
    'JAX_FINDINGS_DATA (not set)',
    str(tmp_path / 'tfds'),
    str(tmp_path / 'cache' / 'mnist'),
    'mnist/train-images-idx3-ubyte.gz',
    'mnist/t10k-labels-idx1-ubyte.gz',
  ):
    assert expected in message
  assert '\n' not in message


def test_missing_fashion_mnist_suggests_the_debian_package(monkeypatch):
  monkeypatch.setitem(sources.DEBIAN_DIRS, 'fashion_mnist', '/nonexistent')
  with pytest.raises(DataNotFoundError, match='apt-get install dataset-fashion-mnist'):
    data.load('fashion_mnist', download=False)


def test_unknown_name_lists_known_names():
  with pytest.raises(DataError, match='mnist, fashion_mnist, cifar10, cifar10_generated, digits'):
    data.load('cifar100')


@pytest.mark.parametrize(
  'kwargs', [dict(validation_size=-1), dict(train_subset=0), dict(test_subset=2.5)]
)
def test_bad_sizes_are_rejected(kwargs):
  with pytest.raises(DataError, match='not a valid size'):
    data.load('digits', **kwargs)


def test_standin_only_when_allowed_and_then_flagged(caplog):
  with pytest.raises(DataNotFoundError):
    data.load('mnist', download=False)
  with caplog.at_level(logging.WARNING):
    ds = data.load('mnist', download=False, allow_standin=True)
  assert ds.standin and ds.name == 'mnist'
  assert ds.source.startswith('STAND-IN')
  assert 'STAND-IN' in ds.describe()
  assert 'USING STAND-IN DATA' in caplog.text
  assert ds.train_x.shape[1:] == (28, 28, 1) and ds.train_x.dtype == np.float32
  assert 0.0 <= ds.train_x.min() and ds.train_x.max() <= 1.0
  assert len(ds.train_x) + len(ds.val_x) + len(ds.test_x) == 1797


def test_corrupt_data_is_never_replaced_by_the_standin(tmp_path):
  directory = _write_fake_mnist(tmp_path / 'mnist', gz=False)
  path = os.path.join(directory, 'train-images-idx3-ubyte')
  with open(path, 'r+b') as f:
    f.truncate(1000)
  with pytest.raises(DataError, match='truncated') as error:
    data.load('mnist', data_dir=str(tmp_path), allow_standin=True)
  assert not isinstance(error.value, DataNotFoundError)


def test_digits_by_name_is_deterministic_and_not_a_substitute():
  ds = data.load('digits', validation_size=100)
  again = data.load('digits', validation_size=100)
  assert not ds.standin and ds.name == 'digits'
  assert (len(ds.train_x), len(ds.val_x), len(ds.test_x)) == (1400, 100, 297)
  assert sorted(set(ds.test_y.tolist())) == list(range(10))
  np.testing.assert_array_equal(ds.train_x, again.train_x)
  # The digit fills the central 20x20 box, as in MNIST.
  assert ds.train_x[:, :4].max() == 0 and ds.train_x[:, 24:].max() == 0
  assert ds.train_x[:, 4:24, 4:24].max() == 1.0


def test_digits_validation_is_capped_with_a_warning(caplog):
  with caplog.at_level(logging.WARNING):
    ds = data.load('digits')
  assert (len(ds.train_x), len(ds.val_x)) == (1200, 300)
  assert 'validation_size=5000' in caplog.text


@pytest.mark.skipif(
  not os.path.isdir(DEBIAN_FASHION_DIR), reason='Debian package dataset-fashion-mnist not installed'
)
def test_fashion_mnist_found_on_debian_path_when_env_lacks_it(mnist_env):
  ds = data.load('fashion_mnist')
  assert DEBIAN_FASHION_DIR in ds.source
  assert ds.train_x.shape == (55000, 28, 28, 1)
  assert np.bincount(ds.test_y).tolist() == [1000] * 10


class _FakeDataSource:
  """A TFDS random-access data source over in-memory records."""

  def __init__(self, records):
    self._records = records

  def __len__(self):
    return len(self._records)

  def __getitems__(self, keys):
    return [self._records[k] for k in keys]


def _fake_records(n, value):
  return [{'image': np.full((28, 28, 1), value, np.uint8), 'label': i % 10} for i in range(n)]


def test_prepared_tfds_dataset_is_read(monkeypatch, tmp_path):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  calls = []

  def data_source(name, *, split, data_dir, download):
    calls.append((name, split, data_dir, download))
    return [_FakeDataSource(_fake_records(30, 9)), _FakeDataSource(_fake_records(10, 9))]

  os.makedirs(tmp_path / 'tfds' / 'fashion_mnist')
  monkeypatch.setattr(tfds, 'data_source', data_source)
  ds = data.load('fashion_mnist', validation_size=5)
  assert calls == [('fashion_mnist', ['train', 'test'], str(tmp_path / 'tfds'), False)]
  assert ds.source.startswith('TFDS prepared dataset')
  assert (len(ds.train_x), len(ds.test_x)) == (25, 10)
  assert np.all(ds.test_x == np.float32(9 / 255))


def test_unreadable_tfds_dataset_falls_through(monkeypatch, tmp_path):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  def data_source(name, **kwargs):
    raise NotImplementedError('tfrecord is not random access')

  os.makedirs(tmp_path / 'tfds' / 'mnist')
  monkeypatch.setattr(tfds, 'data_source', data_source)
  with pytest.raises(DataNotFoundError, match='unreadable'):
    data.load('mnist', download=False)


@pytest.fixture
def fake_server(monkeypatch, tmp_path):
  """Small IDX .gz files served by a `fetch` that copies them, with their
  checksums standing in for TFDS's."""
  served = _write_fake_mnist(tmp_path / 'served', value=3)
  checksums = {}
  for filename in sorted(os.listdir(served)):
    with open(os.path.join(served, filename), 'rb') as f:
      checksums[filename] = hashlib.sha256(f.read()).hexdigest()
  monkeypatch.setitem(download.SHA256, 'mnist', checksums)
  fetched = []

  def fetch(url, path, timeout):
    fetched.append(url)
    shutil.copyfile(os.path.join(served, url.rsplit('/', 1)[1]), path)

  monkeypatch.setattr(download, 'fetch', fetch)
  return served, fetched


def _cache_listing(tmp_path):
  directory = tmp_path / 'cache' / 'mnist'
  return sorted(os.listdir(directory)) if directory.is_dir() else []


def test_download_fills_the_cache_once(fake_server, tmp_path):
  _, fetched = fake_server
  ds = data.load('mnist', validation_size=5)
  assert 'downloaded from https://storage.googleapis.com/cvdf-datasets/mnist/' in ds.source
  assert np.all(ds.train_x == np.float32(3 / 255))
  assert len(fetched) == 4
  assert all(url.startswith(download.BASE_URLS['mnist']) for url in fetched)
  assert _cache_listing(tmp_path) == sorted(download.SHA256['mnist'])
  data.load('mnist', validation_size=5)
  assert len(fetched) == 4


def test_download_with_bad_checksum_leaves_no_file(fake_server, tmp_path):
  served, _ = fake_server
  with open(os.path.join(served, 'train-images-idx3-ubyte.gz'), 'ab') as f:
    f.write(b'tampered')
  with pytest.raises(DataNotFoundError, match='sha256') as error:
    data.load('mnist', validation_size=5)
  assert 'train-images-idx3-ubyte.gz' in str(error.value)
  assert 'train-images-idx3-ubyte.gz' not in _cache_listing(tmp_path)
  assert not [f for f in _cache_listing(tmp_path) if f.endswith('.part')]


def test_offline_download_fails_once_and_cleanly(monkeypatch, tmp_path):
  fetched = []

  def fetch(url, path, timeout):
    fetched.append(timeout)
    raise TimeoutError('timed out')

  monkeypatch.setattr(download, 'fetch', fetch)
  with pytest.raises(DataNotFoundError, match='timed out') as error:
    data.load('mnist')
  assert fetched == [download.TIMEOUT_SECONDS]
  assert download.TIMEOUT_SECONDS <= 10
  assert download.BASE_URLS['mnist'] in str(error.value)
  assert _cache_listing(tmp_path) == []


def test_real_fetch_copies_a_url(tmp_path):
  source = tmp_path / 'source.bin'
  source.write_bytes(b'idx bytes')
  REAL_FETCH(source.as_uri(), str(tmp_path / 'copy.bin'), timeout=1)
  assert (tmp_path / 'copy.bin').read_bytes() == b'idx bytes'


def test_checksums_cover_the_standard_files():
  for name in sources.NAMES:
    assert sorted(download.SHA256[name]) == sorted(f + '.gz' for f in sources.IDX_FILES)
    for digest in download.SHA256[name].values():
      assert len(digest) == 64 and int(digest, 16) >= 0
