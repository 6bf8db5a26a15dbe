"""Tests for data/cifar10.py: both real file formats written and read back, lookup, broken files.

The network is never touched: `download.fetch` is replaced and every place is a temp dir.
"""

import hashlib
import io
import os
import pickle
import tarfile

import numpy as np
import pytest

import data
from data import cifar10, download, sources
from data.errors import DataError, DataNotFoundError


def _offline_fetch(url, path, timeout):
  raise OSError(f'network disabled in tests (asked for {url})')


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
  monkeypatch.delenv(sources.DATA_ENV_VAR, raising=False)
  monkeypatch.setenv('TFDS_DATA_DIR', str(tmp_path / 'tfds'))
  monkeypatch.setenv(download.CACHE_ENV_VAR, str(tmp_path / 'cache'))
  monkeypatch.setattr(download, 'fetch', _offline_fetch)


@pytest.fixture(scope='module')
def small():
  return cifar10.generate(seed=3, train_size=60, test_size=20)


@pytest.mark.parametrize('kind', ['py', 'bin'])
def test_written_files_read_back_identical(tmp_path, small, kind):
  out = cifar10.write_dir(tmp_path, small, kind)
  assert os.path.basename(out) == (cifar10.PY_DIR if kind == 'py' else cifar10.BIN_DIR)
  got = cifar10.read_dir(out)
  for a, b in zip(got[:4], small[:4]):
    np.testing.assert_array_equal(a, b)
  assert got.train_images.shape == (60, 32, 32, 3) and got.train_images.dtype == np.uint8
  assert ('python' if kind == 'py' else 'binary') in got.source


def test_pickle_layout_is_the_real_one(tmp_path):
  """A batch written by hand as the CIFAR-10 page documents it: row = R plane, G plane, B plane."""
  images = np.zeros((2, 32, 32, 3), np.uint8)
  images[0, 0, 1, 0] = 10  # red, row 0, column 1: byte 1 of the row
  images[1, 2, 0, 2] = 20  # blue, row 2, column 0: byte 2048 + 64
  rows = np.zeros((2, 3072), np.uint8)
  rows[0, 1], rows[1, 2048 + 64] = 10, 20
  path = tmp_path / 'data_batch_1'
  with open(path, 'wb') as f:
    pickle.dump({b'data': rows, b'labels': [4, 9], b'batch_label': b'x'}, f, protocol=2)
  got, labels = cifar10.read_pickle_batch(str(path))
  np.testing.assert_array_equal(got, images)
  np.testing.assert_array_equal(labels, [4, 9])
  cifar10.write_binary_batch(tmp_path / 'b.bin', images, [4, 9])
  raw = np.fromfile(tmp_path / 'b.bin', np.uint8).reshape(2, 3073)
  assert raw[0, 0] == 4 and raw[0, 2] == 10 and raw[1, 0] == 9 and raw[1, 1 + 2048 + 64] == 20


def test_meta_files_written(tmp_path, small):
  out = cifar10.write_dir(tmp_path, small, 'py')
  with open(os.path.join(out, 'batches.meta'), 'rb') as f:
    meta = pickle.load(f, encoding='bytes')
  assert meta[b'label_names'][3] == b'cat' and meta[b'num_vis'] == 3072
  out = cifar10.write_dir(tmp_path, small, 'bin')
  with open(os.path.join(out, 'batches.meta.txt')) as f:
    assert f.read().split()[:2] == ['airplane', 'automobile']


def test_truncated_binary_is_a_clear_error(tmp_path, small):
  out = cifar10.write_dir(tmp_path, small, 'bin')
  path = os.path.join(out, 'data_batch_2.bin')
  with open(path, 'r+b') as f:
    f.truncate(3073 * 5 + 100)
  with pytest.raises(DataError, match=r'data_batch_2.bin has 15465 bytes.*truncated'):
    cifar10.read_dir(out)


def test_truncated_pickle_is_a_clear_error(tmp_path, small):
  out = cifar10.write_dir(tmp_path, small, 'py')
  path = os.path.join(out, 'test_batch')
  content = open(path, 'rb').read()
  with open(path, 'wb') as f:
    f.write(content[: len(content) // 2])
  with pytest.raises(DataError, match=r'test_batch is not a readable pickle.*truncated'):
    cifar10.read_dir(out)


def test_corrupt_files_are_clear_errors(tmp_path):
  path = tmp_path / 'data_batch_1'
  path.write_bytes(b'this is not a pickle at all')
  with pytest.raises(DataError, match='not a readable pickle'):
    cifar10.read_pickle_batch(str(path))
  with open(path, 'wb') as f:
    pickle.dump({b'images': 1}, f)
  with pytest.raises(DataError, match=r"lacks the keys b'data' and b'labels'"):
    cifar10.read_pickle_batch(str(path))
  with open(path, 'wb') as f:
    pickle.dump({b'data': np.zeros((2, 784), np.uint8), b'labels': [0, 1]}, f)
  with pytest.raises(DataError, match='not uint8 rows of 3072'):
    cifar10.read_pickle_batch(str(path))
  with open(path, 'wb') as f:
    pickle.dump({b'data': np.zeros((2, 3072), np.uint8), b'labels': [0]}, f)
  with pytest.raises(DataError, match='2 images but'):
    cifar10.read_pickle_batch(str(path))
  with open(path, 'wb') as f:
    pickle.dump({b'data': np.zeros((1, 3072), np.uint8), b'labels': [57]}, f)
  with pytest.raises(DataError, match=r'label 57.*CIFAR-100'):
    cifar10.read_pickle_batch(str(path))
  records = np.zeros((2, 3073), np.uint8)
  records[1, 0] = 12
  records.tofile(tmp_path / 'x.bin')
  with pytest.raises(DataError, match='label 12'):
    cifar10.read_binary_batch(str(tmp_path / 'x.bin'))


def test_incomplete_dir_names_the_files(tmp_path, small):
  out = cifar10.write_dir(tmp_path, small, 'py')
  os.remove(os.path.join(out, 'data_batch_5'))
  with pytest.raises(DataError, match='data_batch_5'):
    cifar10.read_dir(out)


@pytest.mark.parametrize('layout', ['root', 'under_cifar10', 'itself'])
def test_found_in_env_dir_and_loaded(tmp_path, monkeypatch, small, layout):
  root = tmp_path / 'datasets'
  where = {'root': root, 'under_cifar10': root / 'cifar10', 'itself': root}[layout]
  out = cifar10.write_dir(where, small, 'bin')
  monkeypatch.setenv(sources.DATA_ENV_VAR, out if layout == 'itself' else str(root))
  ds = data.load('cifar10', validation_size=10)
  assert not ds.standin and 'binary version' in ds.source
  assert ds.train_x.shape == (50, 32, 32, 3) and ds.val_x.shape == (10, 32, 32, 3)
  assert ds.test_x.dtype == np.float32 and ds.test_x.max() <= 1.0
  np.testing.assert_allclose(ds.test_x * 255, small.test_images, atol=1e-3)
  assert '32x32x3' in ds.describe()


def test_data_dir_wins_over_env(tmp_path, monkeypatch, small):
  other = cifar10.generate(seed=4, train_size=30, test_size=10)
  cifar10.write_dir(tmp_path / 'env', other, 'py')
  cifar10.write_dir(tmp_path / 'cfg', small, 'py')
  monkeypatch.setenv(sources.DATA_ENV_VAR, str(tmp_path / 'env'))
  got = cifar10.find(data_dir=str(tmp_path / 'cfg'))
  assert len(got.train_labels) == 60


def test_missing_is_one_paragraph_naming_where_to_put_it(tmp_path, monkeypatch):
  monkeypatch.setenv(sources.DATA_ENV_VAR, str(tmp_path))
  with pytest.raises(DataNotFoundError) as e:
    data.load('cifar10')
  message = str(e.value)
  assert '\n' not in message
  for part in ('cifar-10-batches-py/', 'JAX_FINDINGS_DATA', 'cifar-10-binary.tar.gz', 'TFDS'):
    assert part in message
  assert 'network disabled' in message  # the download was tried, and failed offline


def test_standin_is_loud_and_cifar_shaped(tmp_path, caplog):
  ds = data.load('cifar10', allow_standin=True, validation_size=100, download=False)
  assert ds.standin and ds.source.startswith('STAND-IN for cifar10')
  assert ds.train_x.shape[1:] == (32, 32, 3)
  np.testing.assert_array_equal(ds.train_x[..., 0], ds.train_x[..., 2])
  assert 'USING STAND-IN DATA' in caplog.text


def test_download_is_checksum_verified_and_extracted(tmp_path, monkeypatch, small):
  """The cache is filled from a (fake) tarball; a wrong checksum is refused."""
  buf = io.BytesIO()
  staged = cifar10.write_dir(tmp_path / 'stage', small, 'bin')
  with tarfile.open(fileobj=buf, mode='w:gz') as tar:
    tar.add(staged, arcname=cifar10.BIN_DIR)
  blob = buf.getvalue()

  def fake_fetch(url, path, timeout):
    assert url == download.BASE_URLS['cifar10'] + cifar10.ARCHIVE
    with open(path, 'wb') as f:
      f.write(blob)

  monkeypatch.setattr(download, 'fetch', fake_fetch)
  with pytest.raises(DataNotFoundError, match='sha256'):
    cifar10.find()
  monkeypatch.setitem(
    download.SHA256, 'cifar10', {cifar10.ARCHIVE: hashlib.sha256(blob).hexdigest()}
  )
  got = cifar10.find()
  np.testing.assert_array_equal(got.test_labels, small.test_labels)
  assert download.cache_dir('cifar10') in got.source


def test_generated_dataset_goes_through_the_real_files(tmp_path):
  ds = data.load('cifar10_generated', num_samples=120, train_fraction=0.75, validation_size=10)
  assert ds.train_x.shape == (80, 32, 32, 3) and ds.test_x.shape == (30, 32, 32, 3)
  assert ds.source.startswith('NOT CIFAR-10') and not ds.standin
  written = cifar10.batches_dir(download.cache_dir('cifar10_generated') + '/seed0-train90-test30')
  np.testing.assert_array_equal(cifar10.read_dir(written).test_labels, ds.test_y)
  again = data.load('cifar10_generated', num_samples=120, train_fraction=0.75, validation_size=10)
  np.testing.assert_array_equal(again.train_x, ds.train_x)
