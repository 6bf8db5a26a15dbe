"""Host arrays that XLA:CPU takes in place instead of copying.

`jax.device_put` on the CPU backend aliases a NumPy array whose data starts on a 64-byte
boundary and copies any other one. NumPy's large allocations start 16 bytes past one, so every
dataset used to be held twice, once by NumPy and once by XLA: 242 MB of MNIST's 1.3 GB peak in
the dropout sweep (bench/STUDY.md). Arrays made here are aligned and read-only: the device
array then is the host array, and a write to it, which would change the device's data behind
the program's back, raises instead.
"""

import numpy as np

ALIGNMENT = 64  # bytes; XLA:CPU's minimum alignment for a buffer it can use in place


def empty(shape, dtype) -> np.ndarray:
  """An uninitialised C-contiguous array whose data starts on an ALIGNMENT-byte boundary."""
  dtype = np.dtype(dtype)
  size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
  raw = np.empty(size + ALIGNMENT, np.uint8)
  start = -raw.ctypes.data % ALIGNMENT
  return raw[start : start + size].view(dtype).reshape(shape)


def frozen(array: np.ndarray) -> np.ndarray:
  """`array` itself if it is aligned, C-contiguous and read-only already; else a read-only
  aligned copy (a caller's writable array is never frozen under it)."""
  array = np.asarray(array)
  if is_aligned(array) and not array.flags.writeable:
    return array
  copy = empty(array.shape, array.dtype)
  copy[...] = array
  copy.flags.writeable = False
  return copy


def is_aligned(array: np.ndarray) -> bool:
  """C-contiguous with its data on an ALIGNMENT boundary; an empty array has no data to place
  (NumPy may give it any address)."""
  return array.flags.c_contiguous and (array.size == 0 or array.ctypes.data % ALIGNMENT == 0)
