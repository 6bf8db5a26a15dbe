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


ONE_OFF_COMPILER_OPTIONS = {'xla_backend_optimization_level': 2}


def one_off_compiler_options() -> dict:
  """XLA options for programs that run once a group or once an epoch (init, an epoch's order).

  Their random draws compile to dozens of small threefry kernels, and LLVM at -O2 instead of
  XLA:CPU's -O3 compiles them in about a quarter of the time with the same bits (checked in
  tests/engine_loop_test.py); their run time is negligible. The hot programs keep -O3, which the
  CNN step needs (-O2 runs it ~20 % slower, bench/STUDY.md). Empty off CPU.
  """
  import jax

  return dict(ONE_OFF_COMPILER_OPTIONS) if jax.default_backend() == 'cpu' else {}


SMALL_DOT_COMPILER_OPTIONS = {'xla_cpu_experimental_ynn_fusion_type': ''}


def model_compiler_options(model) -> dict:
  """XLA options for the programs that train and evaluate `model`.

  An MLP's dots (a batch of 32 by 784x100) are too small for YNNPACK's threaded kernels: with
  XLA's own dot emitter the MLP epoch ran 1.3x faster (bench/STUDY.md, "The MLP epoch"). Conv
  nets keep YNNPACK for their dense layers (no gain without it, and it is the fast bf16 path).
  Empty off CPU.
  """
  import jax

  import nets

  if jax.default_backend() != 'cpu' or not isinstance(model, nets.MLP):
    return {}
  return dict(SMALL_DOT_COMPILER_OPTIONS)
