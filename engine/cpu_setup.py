"""Process settings for XLA:CPU that must be in place before jax is imported.

XLA reads XLA_FLAGS once, when its CPU backend starts, so entry points (launch.py, the tests'
conftest, the benchmarks) call `configure()` before anything imports jax. The user's own
XLA_FLAGS are kept; a flag they set themselves is never overridden.
"""

import os
import sys

# YNNPACK for plain dots only: its convolutions and reductions were about 2x slower than XLA's
# own at 2 threads (bench/STUDY.md), while its dots are the fast path.
CPU_XLA_FLAGS = ('--xla_cpu_experimental_ynn_fusion_type=individual_dot',)


def configure(flags=CPU_XLA_FLAGS) -> bool:
  """Adds `flags` to XLA_FLAGS; returns False (and changes nothing) if jax is already imported."""
  if 'jax' in sys.modules:
    return False
  current = os.environ.get('XLA_FLAGS', '')
  for flag in flags:
    if flag.split('=')[0] not in current:
      current = f'{current} {flag}'.strip()
  os.environ['XLA_FLAGS'] = current
  return True
