"""Matmul roofline: the GFLOP/s ceiling each framework reaches on this CPU.

A train step can't beat its matmuls; this says how much of any JAX/PyTorch
gap is kernel speed (ceiling) versus everything around the kernels.  bf16
rows (bf16 inputs, float32 accumulation) run only where the CPU has native
bf16 units (avx512_bf16 / AMX), where they may double the ceiling.

Run: python -m bench.roofline [--n 2048]
"""

from __future__ import annotations

import argparse
import json

from bench import machine, timing, worker


def _flops(n: int) -> float:
  return 2.0 * n**3


def jax_matmul(
  n: int = 2048, dtype: str = 'float32', min_time: float = 1.0, rounds: int = 3
) -> float:
  """GFLOP/s of jnp.dot on (n,n)x(n,n); bf16 accumulates in float32."""
  run = worker.jax_matmul_call(dtype, n)
  r = timing.interleave({'m': run}, rounds=rounds, min_time=min_time)['m']
  return r['median'] * _flops(n) / 1e9


def torch_matmul(
  n: int = 2048,
  dtype: str = 'float32',
  min_time: float = 1.0,
  rounds: int = 3,
  threads: int | None = None,
) -> float:
  """GFLOP/s of torch.mm; bf16 inputs, f32 accumulation."""
  import torch

  torch.set_num_threads(threads or machine.thread_count())
  run = worker.torch_matmul_call(dtype, n)
  r = timing.interleave({'m': run}, rounds=rounds, min_time=min_time)['m']
  return r['median'] * _flops(n) / 1e9


def measure(n: int = 2048, min_time: float = 1.0, with_torch: bool = True) -> dict:
  """{'jax_f32': GFLOP/s, 'torch_f32': ..., 'jax_bf16': ..., 'torch_bf16': ...}."""
  out = {'n': n, 'jax_f32': jax_matmul(n, 'float32', min_time)}
  bf16 = machine.has_native_bf16()
  if bf16:
    out['jax_bf16'] = jax_matmul(n, 'bfloat16', min_time)
  if with_torch:
    try:
      out['torch_f32'] = torch_matmul(n, 'float32', min_time)
      if bf16:
        out['torch_bf16'] = torch_matmul(n, 'bfloat16', min_time)
    except ImportError:
      out['torch'] = 'not installed'
  return out


def main():
  p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  p.add_argument('--n', type=int, default=2048)
  p.add_argument('--min-time', type=float, default=1.0)
  a = p.parse_args()
  print(machine.summary())
  print(json.dumps(measure(a.n, a.min_time), indent=1))


if __name__ == '__main__':
  main()
