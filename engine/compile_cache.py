"""JAX's persistent compilation cache, on by default: reruns, resumes and tests compile once.

The default directory is per user and per machine (host name and a fingerprint of the CPU's
model and flags), because an XLA:CPU executable is compiled for the CPU it was built on and the
project's hosts differ (AVX2-only AMD, AVX-512/AMX Intel). `$JAX_COMPILATION_CACHE_DIR`, which
JAX reads itself, wins over the default; `--compilation_cache=off` turns the cache off.
"""

import hashlib
import os
import platform

import jax

OFF = ('off', 'none', 'false', '0')


def _cpu_fingerprint() -> str:
  try:
    with open('/proc/cpuinfo') as f:
      lines = [ln for ln in f if ln.startswith(('model name', 'flags'))][:2]
  except OSError:
    lines = [platform.processor(), platform.machine()]
  return hashlib.sha256(''.join(lines).encode()).hexdigest()[:10]


def default_directory() -> str:
  root = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
  machine = f'{platform.node() or "host"}-{_cpu_fingerprint()}'
  return os.path.join(root, 'jax-findings', 'xla', machine)


def enable(setting: str = 'auto') -> str | None:
  """Turns the cache on (`auto`: `$JAX_COMPILATION_CACHE_DIR` or the default directory, or a
  directory given) or off; returns the directory in use, or None."""
  if setting.lower() in OFF:
    jax.config.update('jax_enable_compilation_cache', False)
    return None
  directory = setting
  if setting == 'auto':
    directory = os.environ.get('JAX_COMPILATION_CACHE_DIR') or default_directory()
  jax.config.update('jax_compilation_cache_dir', directory)
  # The findings' programs compile in well under JAX's default 1 s threshold, yet add up to most
  # of a quick run's wall time; cache them all (a quick dropout sweep's entries total ~0.5 MB).
  jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.0)
  return directory
