"""What machine a benchmark ran on: CPU model, cores, ISA flags, versions.

Ratios vs PyTorch only make sense next to these facts: bf16 speed depends on
avx512_bf16/AMX, and both frameworks must use the same thread count.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform

ISA_FLAGS = (
  'avx2',
  'fma',
  'avx512f',
  'avx512_bf16',
  'avx512_fp16',
  'avx512_vnni',
  'amx_bf16',
  'amx_tile',
  'amx_int8',
)


def _cpuinfo() -> dict[str, str]:
  """First processor block of /proc/cpuinfo ({} where there is none)."""
  try:
    with open('/proc/cpuinfo') as f:
      block = f.read().split('\n\n')[0]
  except OSError:
    return {}
  out = {}
  for line in block.splitlines():
    if ':' in line:
      k, v = line.split(':', 1)
      out[k.strip()] = v.strip()
  return out


def cpu_flags() -> dict[str, bool]:
  """The ISA flags that decide which kernels (f32 / bf16 / AMX) can run."""
  flags = set(_cpuinfo().get('flags', '').split())
  return {f: f in flags for f in ISA_FLAGS}


def has_native_bf16() -> bool:
  """True where the CPU has bf16 dot-product units (avx512_bf16 or AMX)."""
  f = cpu_flags()
  return f['avx512_bf16'] or f['amx_bf16']


def thread_count() -> int:
  """Threads XLA:CPU uses: the CPUs this process may run on."""
  try:
    return len(os.sched_getaffinity(0))
  except AttributeError:
    return os.cpu_count() or 1


def _version(dist: str) -> str | None:
  try:
    return importlib.metadata.version(dist)
  except importlib.metadata.PackageNotFoundError:
    return None


def info() -> dict:
  """A JSON-able description of this machine and the software under test.

  Does not import jax or torch, so it can be called before XLA_FLAGS is set.
  """
  c = _cpuinfo()
  return {
    'cpu_model': c.get('model name', platform.processor() or 'unknown'),
    'vendor': c.get('vendor_id', 'unknown'),
    'cores': os.cpu_count(),
    'threads': thread_count(),
    'flags': cpu_flags(),
    'native_bf16': has_native_bf16(),
    'python': platform.python_version(),
    'jax': _version('jax'),
    'jaxlib': _version('jaxlib'),
    'flax': _version('flax'),
    'optax': _version('optax'),
    'torch': _version('torch'),
    'env': {k: os.environ.get(k) for k in ('XLA_FLAGS', 'GLIBC_TUNABLES', 'OMP_NUM_THREADS')},
  }


def summary() -> str:
  """One line for logs and reports."""
  i = info()
  isa = ','.join(k for k, v in i['flags'].items() if v) or 'none'
  return (
    f'{i["cpu_model"]} ({i["vendor"]}), {i["threads"]} threads, '
    f'ISA {isa}; jax {i["jax"]}, flax {i["flax"]}, torch {i["torch"]}'
  )


if __name__ == '__main__':
  import json

  print(json.dumps(info(), indent=1))
