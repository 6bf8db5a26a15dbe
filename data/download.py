"""Downloading the data files from where TFDS gets them, verified by checksum.

The URLs and sha256 checksums are the ones TFDS records for its `mnist`,
`fashion_mnist` and `cifar10` builders (tensorflow_datasets/url_checksums/),
so a downloaded file is byte-identical to what TFDS uses.
"""

import hashlib
import http.client
import os
import shutil
import tempfile
import urllib.request

from data.errors import DataError

CACHE_ENV_VAR = 'JAX_FINDINGS_CACHE'
TIMEOUT_SECONDS = 5

BASE_URLS = {
  'mnist': 'https://storage.googleapis.com/cvdf-datasets/mnist/',
  'fashion_mnist': 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/',
  'cifar10': 'https://www.cs.toronto.edu/~kriz/',
}

SHA256 = {
  'mnist': {
    'train-images-idx3-ubyte.gz': '440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609',
    'train-labels-idx1-ubyte.gz': '3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c',
    't10k-images-idx3-ubyte.gz': '8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6',
    't10k-labels-idx1-ubyte.gz': 'f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6',
  },
  'fashion_mnist': {
    'train-images-idx3-ubyte.gz': '3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84',
    'train-labels-idx1-ubyte.gz': 'a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845',
    't10k-images-idx3-ubyte.gz': '346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073',
    't10k-labels-idx1-ubyte.gz': '67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5',
  },
  'cifar10': {  # tensorflow_datasets/url_checksums/cifar10.txt; data/cifar10.py extracts it
    'cifar-10-binary.tar.gz': 'c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd',
  },
}


def cache_dir(name: str) -> str:
  """`$JAX_FINDINGS_CACHE/<name>`, by default `~/.cache/jax_findings/<name>`."""
  root = os.environ.get(CACHE_ENV_VAR) or os.path.join(
    os.path.expanduser('~'), '.cache', 'jax_findings'
  )
  return os.path.join(root, name)


def fetch(url: str, path: str, timeout: float) -> None:
  """Copies `url` to `path`; the one function that touches the network."""
  with urllib.request.urlopen(url, timeout=timeout) as response:
    with open(path, 'wb') as f:
      shutil.copyfileobj(response, f)


def _sha256(path):
  digest = hashlib.sha256()
  with open(path, 'rb') as f:
    for block in iter(lambda: f.read(1 << 20), b''):
      digest.update(block)
  return digest.hexdigest()


def _download_file(url, path, expected_sha256):
  """Fetches into a temporary file renamed into place only once verified."""
  directory, filename = os.path.split(path)
  fd, partial = tempfile.mkstemp(prefix=f'.{filename}.', suffix='.part', dir=directory)
  os.close(fd)
  try:
    try:
      fetch(url, partial, TIMEOUT_SECONDS)
    except (OSError, http.client.HTTPException) as e:
      raise DataError(f'downloading {url} failed ({e}; timeout {TIMEOUT_SECONDS} s)') from None
    actual = _sha256(partial)
    if actual != expected_sha256:
      raise DataError(
        f'{url} gave a file with sha256 {actual}, not the '
        f'{expected_sha256} TFDS records for it, so it was '
        'discarded'
      )
    os.replace(partial, path)
  finally:
    if os.path.exists(partial):
      os.remove(partial)


def download(name: str) -> str:
  """Fills the cache dir of `name` with its verified IDX files; returns it.

  Files already in the cache are kept. Raises DataError (its message a clause,
  to be folded into a longer one) at the first failure, so an offline machine
  fails after one timeout rather than four.
  """
  directory = cache_dir(name)
  try:
    os.makedirs(directory, exist_ok=True)
  except OSError as e:
    raise DataError(
      f'the download cache {directory} cannot be created ({e}); '
      f'set {CACHE_ENV_VAR} to a writable directory'
    ) from None
  for filename, sha256 in SHA256[name].items():
    path = os.path.join(directory, filename)
    if not os.path.exists(path):
      _download_file(BASE_URLS[name] + filename, path, sha256)
  return directory
