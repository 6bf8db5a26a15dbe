"""The 10-rate dropout sweep end to end, JAX vs PyTorch, in one process.

Each rate: a fresh model, 1 epoch on 55,000 MNIST images (batch 128, Adam),
then test accuracy on 10,000.  Data loaded once.  Wall time includes JAX's
compile (once: the rate is a traced scalar) and both frameworks' eval.

  GLIBC_TUNABLES=glibc.malloc.hugetlb=1 python -m bench.study_sweep_e2e
"""

from __future__ import annotations

import argparse
import json
import os

from bench import cpu_setup

RATES = tuple(round(0.1 * i, 1) for i in range(10))


def main():
  p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  p.add_argument('--rates', type=int, default=10, help='first N of 0.0..0.9')
  p.add_argument('--modes', default='sequential,vmap,torch')
  p.add_argument('--out', default=os.path.join(os.path.dirname(__file__),
                                               'results', 'sweep_e2e.jsonl'))
  a = p.parse_args()
  cpu_setup.configure()
  from bench import jax_train as jt, machine, mnist, timing, torch_peers
  x, y, xe, ye = mnist.load()
  rates = RATES[:a.rates]
  res = {'machine': machine.info(), 'rates': rates}
  for mode in a.modes.split(','):
    timing.wait_quiet(0.3, 30)
    if mode == 'torch':
      r = torch_peers.dropout_sweep(x, y, xe, ye, rates)
    else:
      r = jt.sweep_e2e(x, y, xe, ye, rates, mode=mode)
    r['accuracy'] = {str(k): round(v, 4) for k, v in r['accuracy'].items()}
    r['other_cores_after'] = round(timing.other_load(0.5), 2)
    res[mode] = r
    print(mode, json.dumps(r), flush=True)
  os.makedirs(os.path.dirname(a.out), exist_ok=True)
  with open(a.out, 'a') as f:
    f.write(json.dumps(res) + '\n')


if __name__ == '__main__':
  main()
