"""Workload 5 alone (CIFAR ResNet-18 step, JAX engine vs PyTorch), for a busy machine.

    python -m bench.resnet_ab [ROUNDS] [BATCH]     # default 5 rounds, batch 32

The same measurement as `python -m bench --only resnet`, without waiting for quiet rounds or
retrying unclean ones, and without writing bench/results or BENCHMARKS.md: JAX and PyTorch
alternate within every round (A/B, then B/A), so load from other processes hits both alike.
"""

import json
import sys
import time

from bench import run, timing


def main(argv):
  rounds = int(argv[1]) if len(argv) > 1 else 5
  batch = int(argv[2]) if len(argv) > 2 else 32
  timing.QUIET_WAIT, timing.RETRY_FACTOR = 0.0, 1
  t0 = time.time()
  keys = ('workload', 'jax', 'torch', 'ratio', 'jax_spread', 'torch_spread', 'clean')
  for row in run.bench_resnet({}, rounds=rounds, batch_size=batch):
    print(json.dumps({k: row[k] for k in keys + ('compile_seconds', 'gflops', 'torch_gflops')}))
  print(f'{time.time() - t0:.0f} s')


if __name__ == '__main__':
  main(sys.argv)
