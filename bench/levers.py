"""Named variants of the engine for A/B timing (bench/STUDY.md, "Levers"), applied in a worker.

Each lever patches the engine before the worker builds its program, so a variant and the
default run the same benchmark code, each in a process of its own:

    python -m bench.levers --workload=cnn --levers=pool_split_max

prints the default's and the variant's medians from alternating rounds. A lever that wins is
then made the engine's default in its own module; the patch here is the measuring device only.
"""

from __future__ import annotations

import argparse
import json


def _pool_split_max():
  """The max-pool before the tie fix: jnp.maximum, which splits a tie's gradient."""
  import jax.numpy as jnp

  from nets import conv_ops

  conv_ops._first_max = jnp.maximum


def _plain_optimizer():
  """The optimizer without optax.inject_hyperparams: its numbers constants of the program.

  Valid only when no optimizer number is swept: init still gets each model's numbers, the
  step the config's.
  """
  import optax

  from engine import optimizers

  class _Optax:
    inject_hyperparams = staticmethod(lambda factory: factory)

    def __getattr__(self, name):
      return getattr(optax, name)

  optimizers.optax = _Optax()


LEVERS = {
  'pool_split_max': _pool_split_max,
  'plain_optimizer': _plain_optimizer,
}


def apply(names=()):
  for name in names:
    if name not in LEVERS:
      raise ValueError(f'unknown lever {name!r}; known: {", ".join(LEVERS)}')
    LEVERS[name]()


def main(argv=None):
  from bench import run, timing

  p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  p.add_argument('--workload', default='cnn', help='mlp, cnn or lenet')
  p.add_argument('--levers', required=True, help='comma-separated names from LEVERS')
  p.add_argument('--rounds', type=int, default=5)
  p.add_argument('--min_time', type=float, default=0.8)
  p.add_argument('--quiet_wait', type=float, default=2.0)
  a = p.parse_args(argv)
  timing.QUIET_WAIT = a.quiet_wait
  levers = [x for x in a.levers.split(',') if x]
  base = {'framework': 'jax', 'workload': a.workload}
  res, infos = run.pair(
    {'default': base, '+'.join(levers): dict(base, levers=levers)}, a.rounds, a.min_time
  )
  out = {
    k: {
      'median': r['median'],
      'spread': [r['min'], r['max']],
      'clean': r['clean'],
      'other_cores': r['other_cores'],
      'loadavg': r['loadavg'],
      'peak_rss_mb': r['peak_rss_mb'],
      'compile_seconds': infos[k].get('compile_seconds'),
    }
    for k, r in res.items()
  }
  print(json.dumps({'workload': a.workload, 'rounds': a.rounds, 'results': out}, indent=1))


if __name__ == '__main__':
  main()
