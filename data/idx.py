"""Reading and writing IDX files, the format MNIST and Fashion-MNIST ship in.

IDX: two zero bytes, a type byte, a byte giving the number of dimensions, one
big-endian uint32 per dimension, then the values big-endian in C order. A
`.gz` suffix means the whole file is gzip-compressed.
"""

import gzip
import os
import zlib

import numpy as np

from data.errors import DataError

_DTYPE_OF_TYPE_BYTE = {
  0x08: np.dtype('>u1'),
  0x09: np.dtype('>i1'),
  0x0B: np.dtype('>i2'),
  0x0C: np.dtype('>i4'),
  0x0D: np.dtype('>f4'),
  0x0E: np.dtype('>f8'),
}
_TYPE_BYTE_OF_KIND = {(d.kind, d.itemsize): t for t, d in _DTYPE_OF_TYPE_BYTE.items()}


def _is_gzip(path):
  return os.fspath(path).endswith('.gz')


def _read_bytes(path):
  try:
    with open(path, 'rb') as f:
      raw = f.read()
  except FileNotFoundError:
    raise DataError(f'IDX file {path} does not exist; check the path.') from None
  except OSError as e:
    raise DataError(f'IDX file {path} cannot be read ({e}); check its permissions.') from None
  if not _is_gzip(path):
    return raw
  try:
    return gzip.decompress(raw)
  except (OSError, EOFError, zlib.error) as e:
    raise DataError(
      f'IDX file {path} is not a valid gzip stream ({type(e).__name__}: '
      f'{e}); the file is truncated or corrupt, so delete it and fetch a '
      'fresh copy.'
    ) from None


def read_idx(path) -> np.ndarray:
  """Returns the array stored in the IDX file at `path` (gzipped if `.gz`).

  Every inconsistency raises DataError naming the file, because a silently
  short or padded file would otherwise surface much later as a shape error.
  Single-byte arrays are read-only views of the file's bytes; wider types are
  converted to native byte order.
  """
  data = _read_bytes(path)
  fix = 'delete it and fetch a fresh copy'
  if len(data) < 4:
    raise DataError(
      f'IDX file {path} is only {len(data)} bytes long, shorter '
      f'than the 4-byte IDX magic number; {fix}.'
    )
  if data[0] != 0 or data[1] != 0:
    raise DataError(
      f'IDX file {path} does not start with the two zero bytes '
      f'of the IDX magic number (found {data[:4].hex()}); it is '
      f'not an IDX file, or is corrupt: {fix}.'
    )
  type_byte, ndim = data[2], data[3]
  if type_byte not in _DTYPE_OF_TYPE_BYTE:
    known = ', '.join(f'0x{t:02X}' for t in _DTYPE_OF_TYPE_BYTE)
    raise DataError(
      f'IDX file {path} has unknown type byte 0x{type_byte:02X} '
      f'(known: {known}); it is corrupt: {fix}.'
    )
  if ndim == 0:
    raise DataError(f'IDX file {path} declares 0 dimensions; it is corrupt: {fix}.')
  header_size = 4 + 4 * ndim
  if len(data) < header_size:
    raise DataError(
      f'IDX file {path} declares {ndim} dimensions but ends '
      f'after {len(data)} bytes, inside its {header_size}-byte '
      f'header; it is truncated: {fix}.'
    )
  shape = tuple(int(d) for d in np.frombuffer(data, '>u4', ndim, offset=4))
  dtype = _DTYPE_OF_TYPE_BYTE[type_byte]
  expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
  actual = len(data) - header_size
  if actual < expected:
    raise DataError(
      f'IDX file {path} is truncated: its header declares shape '
      f'{shape} of {dtype.name}, which needs {expected} bytes of '
      f'data, but only {actual} bytes follow the header; {fix}.'
    )
  if actual > expected:
    raise DataError(
      f'IDX file {path} has {actual - expected} trailing bytes: '
      f'its header declares shape {shape} of {dtype.name}, which '
      f'needs {expected} bytes of data, but {actual} bytes '
      f'follow the header; it is corrupt: {fix}.'
    )
  array = np.frombuffer(data, dtype, offset=header_size).reshape(shape)
  return array.astype(dtype.newbyteorder('='), copy=False)


def write_idx(path, array) -> None:
  """Writes `array` as an IDX file, gzip-compressed if `path` ends in `.gz`."""
  array = np.asarray(array)
  type_byte = _TYPE_BYTE_OF_KIND.get((array.dtype.kind, array.dtype.itemsize))
  if type_byte is None or array.ndim == 0 or array.ndim > 255:
    raise ValueError(
      f'IDX cannot store a {array.ndim}-D {array.dtype} array; '
      'it holds 1- to 255-D uint8, int8, int16, int32, float32 '
      'or float64 arrays.'
    )
  header = bytes([0, 0, type_byte, array.ndim])
  header += np.asarray(array.shape, '>u4').tobytes()
  payload = header + array.astype(_DTYPE_OF_TYPE_BYTE[type_byte]).tobytes()
  if _is_gzip(path):
    payload = gzip.compress(payload, mtime=0)
  with open(path, 'wb') as f:
    f.write(payload)
