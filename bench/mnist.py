"""Real MNIST for benchmarks, loaded once into memory as numpy arrays.

A bench-local loader so timings don't depend on the project's data pipeline:
both frameworks get the same in-memory arrays (no DataLoader, no input cost).
"""

from __future__ import annotations

import gzip
import os

import numpy as np

DEFAULT_DIR = os.environ.get('MNIST_DIR', '/work/shared/datasets/mnist')
MEAN, STD = 0.1307, 0.3081


def _idx(path: str) -> np.ndarray:
  """Parse a gzipped IDX file (big-endian header: magic, dims...)."""
  with gzip.open(path, 'rb') as f:
    raw = f.read()
  ndim = raw[3]
  dims = np.frombuffer(raw, '>u4', count=ndim, offset=4).astype(int)
  return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(root: str = DEFAULT_DIR, n_train: int | None = 55000):
  """(x_train, y_train, x_test, y_test); x float32 NHWC normalised, y int32.

  n_train=55000 matches the classic 55k/5k train/validation split.
  """
  x_tr = _idx(os.path.join(root, 'train-images-idx3-ubyte.gz'))
  y_tr = _idx(os.path.join(root, 'train-labels-idx1-ubyte.gz'))
  x_te = _idx(os.path.join(root, 't10k-images-idx3-ubyte.gz'))
  y_te = _idx(os.path.join(root, 't10k-labels-idx1-ubyte.gz'))
  prep = lambda x: ((x.astype(np.float32) / 255.0 - MEAN) / STD)[..., None]
  if n_train is not None:
    x_tr, y_tr = x_tr[:n_train], y_tr[:n_train]
  return prep(x_tr), y_tr.astype(np.int32), prep(x_te), y_te.astype(np.int32)
