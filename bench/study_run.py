"""Run the whole CPU study: each (group, environment) in a fresh process.

XLA_FLAGS and GLIBC_TUNABLES are read once at process start, so every
environment gets its own `python -m bench.study_cnn` subprocess.  Results
append to bench/results/study.jsonl; `python -m bench.study_report` turns
them into the tables of bench/STUDY.md.

  python -m bench.study_run            # everything (~35 min on 2 cores)
  python -m bench.study_run --only impls,best
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from bench.cpu_setup import HUGETLB, YNN_DOTS_ONLY

YNN_OFF = '--xla_cpu_experimental_ynn_fusion_type='

# name -> (XLA_FLAGS, GLIBC_TUNABLES, unrolled threefry)
ENVS = {
    'default': ('', '', False),
    'ynn_off': (YNN_OFF, '', False),
    'ynn_dot': (YNN_DOTS_ONLY, '', False),
    'ynn_dot+hugetlb': (YNN_DOTS_ONLY, HUGETLB, False),
    'ynn_dot+threefry': (YNN_DOTS_ONLY, '', True),
    'ynn_dot+hugetlb+threefry': (YNN_DOTS_ONLY, HUGETLB, True),
    'recommended': (YNN_DOTS_ONLY, '', False),
}

# (group, env, pin to one CPU?)
RUNS = [
    ('impls', 'default', False), ('impls', 'ynn_off', False), ('impls', 'ynn_dot', False),
    ('bf16', 'default', False), ('bf16', 'ynn_dot', False),
    ('best', 'ynn_dot', False), ('best', 'ynn_dot+hugetlb', False),
    ('best', 'ynn_dot+threefry', False), ('best', 'ynn_dot+hugetlb+threefry', False),
    ('drivers', 'recommended', False), ('sweep', 'recommended', False),
    ('lenet', 'recommended', False), ('mlp', 'recommended', False),
    ('mlp', 'ynn_off', False),
    ('impls', 'ynn_dot', True), ('best', 'ynn_dot', True),
]


def run(group, env_name, pin, out, rounds, min_time):
  flags, tunables, threefry = ENVS[env_name]
  env = dict(os.environ)
  env.pop('XLA_FLAGS', None)
  env.pop('GLIBC_TUNABLES', None)
  if flags:
    env['XLA_FLAGS'] = flags
  if tunables:
    env['GLIBC_TUNABLES'] = tunables
  cmd = [sys.executable, '-m', 'bench.study_cnn', '--group', group,
         '--label', env_name + (' 1cpu' if pin else ''), '--out', out,
         '--rounds', str(rounds), '--min-time', str(min_time)]
  if threefry:
    cmd.append('--unrolled-threefry')
  if pin:
    cmd = ['taskset', '-c', str(max(os.sched_getaffinity(0)))] + cmd
  t0 = time.time()
  print(f'== {group} @ {env_name}{" (1 cpu)" if pin else ""}', flush=True)
  subprocess.run(cmd, env=env, check=False)
  print(f'   ({time.time() - t0:.0f}s)', flush=True)


def main():
  p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  p.add_argument('--only', default='', help='comma-separated groups')
  p.add_argument('--env', default='', help='comma-separated env names')
  p.add_argument('--pinned', choices=('yes', 'no', 'any'), default='any')
  p.add_argument('--out', default=os.path.join(os.path.dirname(__file__),
                                               'results', 'study.jsonl'))
  p.add_argument('--rounds', type=int, default=3)
  p.add_argument('--min-time', type=float, default=0.8)
  a = p.parse_args()
  os.makedirs(os.path.dirname(a.out), exist_ok=True)
  only = set(filter(None, a.only.split(',')))
  envs = set(filter(None, a.env.split(',')))
  for g, e, pin in RUNS:
    if ((not only or g in only) and (not envs or e in envs)
        and a.pinned in ('any', 'yes' if pin else 'no')):
      run(g, e, pin, a.out, a.rounds, a.min_time)


if __name__ == '__main__':
  main()
