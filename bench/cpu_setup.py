"""The recommended XLA:CPU process setup, measured in bench/STUDY.md.

Environment variables only take effect if set before jax is imported (XLA
reads XLA_FLAGS once, when the CPU backend starts; glibc reads
GLIBC_TUNABLES at process start, so that one must be in the environment
of the *launching* shell or be set by re-exec).  Call `configure()` first
thing in a CPU entry point, before `import jax`.
"""

from __future__ import annotations

import warnings

from engine import cpu_setup as engine_cpu_setup

# The framework's own flags (engine/cpu_setup.py), so the study measures what launch.py runs.
RECOMMENDED_XLA_FLAGS = engine_cpu_setup.CPU_XLA_FLAGS
YNN_DOTS_ONLY = RECOMMENDED_XLA_FLAGS[0]
HUGETLB = 'glibc.malloc.hugetlb=1'


def configure(xla_flags=RECOMMENDED_XLA_FLAGS, unrolled_threefry=False) -> None:
  """Adds `xla_flags` to XLA_FLAGS through the engine; warns if jax was already imported."""
  if not engine_cpu_setup.configure(xla_flags):
    warnings.warn('bench.cpu_setup.configure() after `import jax`: XLA_FLAGS '
                  'may already have been read', stacklevel=2)
  if unrolled_threefry:
    use_unrolled_threefry()


def use_unrolled_threefry() -> None:
  """Lower threefry2x32 on CPU as straight-line code instead of a loop.

  jax lowers the PRNG hash on CPU as a 5-trip while loop (to save compile
  time); each trip is a separate kernel over the whole bits array plus
  copies of the loop state.  The straight-line lowering (what GPU uses) is
  one fused loop: 3.5x faster for the dropout masks alone, bit-identical
  values.  BUT in the dropout CNN's train step XLA then fuses the hash into
  the pool/flatten fusion, which loses vectorisation: the step got 25-30%
  SLOWER (bench/STUDY.md), so `configure()` leaves it off.  Uses jax
  internals; a no-op if they moved.
  """
  try:
    from jax._src.interpreters import mlir
    from jax._src.random import threefry2x32 as tf
    mlir.register_lowering(tf.threefry2x32_p, tf._threefry2x32_lowering_rule,
                           platform='cpu')
  except (ImportError, AttributeError) as e:  # pragma: no cover
    warnings.warn(f'unrolled threefry unavailable: {e}')
