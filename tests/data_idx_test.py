"""Tests for data/idx.py: the IDX format and every way a file can be broken."""

import gzip

import numpy as np
import pytest

from data.errors import DataError
from data.idx import read_idx, write_idx

DTYPES = (np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64)


@pytest.mark.parametrize('suffix', ['', '.gz'])
@pytest.mark.parametrize('dtype', DTYPES)
def test_round_trip(tmp_path, dtype, suffix):
  rng = np.random.default_rng(0)
  array = (rng.normal(size=(3, 4, 5)) * 100).astype(dtype)
  path = tmp_path / f'a.idx{suffix}'
  write_idx(path, array)
  read = read_idx(path)
  assert read.dtype == np.dtype(dtype)
  assert read.dtype.isnative
  np.testing.assert_array_equal(read, array)


def test_writes_standard_big_endian_layout(tmp_path):
  path = tmp_path / 'a.idx'
  write_idx(path, np.array([[1, -2, 258]], np.int16))
  assert path.read_bytes() == bytes([0, 0, 0x0B, 2, 0, 0, 0, 1, 0, 0, 0, 3, 0, 1, 0xFF, 0xFE, 1, 2])


def test_gz_suffix_means_gzip(tmp_path):
  path = tmp_path / 'a.idx.gz'
  write_idx(path, np.arange(10, dtype=np.uint8))
  assert gzip.decompress(path.read_bytes())[:4] == bytes([0, 0, 8, 1])


def test_write_rejects_unsupported_dtype(tmp_path):
  with pytest.raises(ValueError, match='uint16'):
    write_idx(tmp_path / 'a.idx', np.zeros(3, np.uint16))


def _valid_bytes(shape=(4, 3)):
  header = bytes([0, 0, 0x08, len(shape)]) + np.asarray(shape, '>u4').tobytes()
  return header + bytes(int(np.prod(shape)))


def _read_error(tmp_path, payload, name='bad.idx'):
  path = tmp_path / name
  path.write_bytes(payload)
  with pytest.raises(DataError) as error:
    read_idx(path)
  message = str(error.value)
  assert str(path) in message
  assert '\n' not in message
  return message


def test_bad_magic(tmp_path):
  message = _read_error(tmp_path, b'\x01' + _valid_bytes()[1:])
  assert 'zero bytes' in message


def test_unknown_type_byte(tmp_path):
  payload = bytearray(_valid_bytes())
  payload[2] = 0x0A
  assert '0x0A' in _read_error(tmp_path, bytes(payload))


def test_zero_dimensions(tmp_path):
  assert '0 dimensions' in _read_error(tmp_path, bytes([0, 0, 8, 0]))


def test_more_dimensions_than_header(tmp_path):
  message = _read_error(tmp_path, bytes([0, 0, 8, 3]) + bytes(8))
  assert '3 dimensions' in message and 'header' in message


def test_shorter_than_magic(tmp_path):
  assert '2 bytes' in _read_error(tmp_path, b'\x00\x00')


def test_truncated_raw_says_expected_and_actual(tmp_path):
  message = _read_error(tmp_path, _valid_bytes((4, 3))[:-5])
  assert 'truncated' in message
  assert '12 bytes' in message and 'only 7 bytes' in message


def test_trailing_bytes(tmp_path):
  message = _read_error(tmp_path, _valid_bytes((4, 3)) + b'xyz')
  assert '3 trailing bytes' in message


def test_trailing_bytes_inside_gzip(tmp_path):
  payload = gzip.compress(_valid_bytes() + b'\x00')
  assert '1 trailing bytes' in _read_error(tmp_path, payload, 'bad.idx.gz')


def test_truncated_gzip(tmp_path):
  payload = gzip.compress(np.arange(5000).astype('>u2').tobytes())
  message = _read_error(tmp_path, payload[: len(payload) // 2], 'bad.idx.gz')
  assert 'gzip' in message


def test_gzip_with_bad_crc(tmp_path):
  payload = bytearray(gzip.compress(_valid_bytes()))
  payload[-8] ^= 0xFF
  message = _read_error(tmp_path, bytes(payload), 'bad.idx.gz')
  assert 'gzip' in message and 'CRC' in message


def test_not_gzip_despite_suffix(tmp_path):
  assert 'gzip' in _read_error(tmp_path, _valid_bytes(), 'bad.idx.gz')


def test_missing_file(tmp_path):
  with pytest.raises(DataError, match='does not exist'):
    read_idx(tmp_path / 'absent.idx')
