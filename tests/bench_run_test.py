"""The benchmark suite's plumbing: it times the engine's own programs and judges targets right.

No timing is asserted here (speed lives in `python -m bench`); these check what the suite runs
and how it reads its numbers.
"""

import numpy as np

from bench import run


def _data(n):
  rng = np.random.default_rng(0)
  return rng.random((n, 28, 28, 1), np.float32), rng.integers(0, 10, n).astype(np.int32)


def test_the_mlp_workload_is_the_engines_scanned_epoch():
  x, y = _data(320)
  fn, info = run.engine_trainer('mlp', x, y)
  assert info['steps_per_call'] == 10  # the whole epoch (320 / 32) in one program call
  assert fn() == 320
  # 784-100-10: forward 2*(784*100 + 100*10) FLOPs per sample; a train step is 2-3x that (the
  # first layer needs no input gradient).
  forward = 2 * (784 * 100 + 100 * 10) * 32
  assert 2.0 * forward < info['flops_per_step'] < 3.5 * forward


def test_the_cnn_workload_is_one_engine_step_per_call_on_cpu():
  x, y = _data(512)
  fn, info = run.engine_trainer('cnn', x, y)
  assert info['steps_per_call'] == 1
  assert fn() == 10 * 128
  assert info['compile_seconds'] >= 0 and info['flops_per_step'] > 0


def _row(name, ratio, peer='torch f32', compile_s=1.0):
  return {'workload': name, 'ratio': ratio, 'peer': peer, 'compile_seconds': compile_s}


def test_targets_are_judged_against_the_issue_goals():
  rows = [
    _row('1. MLP', 4.2),
    _row('2. CNN f32', 1.1),
    _row('2. CNN bf16', 1.6),
    _row('2. CNN best vs bf16', 0.9, peer='torch bf16 autocast'),
    {'workload': '3. sweep', 'ratio': 1.2, 'peer': 'torch f32 loop'},
    _row('4. LeNet', 1.3, compile_s=12.0),
  ]
  met = {t['target']: t['met'] for t in run.targets(rows)}
  assert met == {
    'MLP epoch vs torch f32': True,
    'CNN step f32 vs torch f32': True,
    'CNN step, fastest setting vs torch f32': True,
    'CNN step, fastest vs torch autocast bf16': False,
    '10-point sweep end to end vs torch loop': False,
    'slowest compile (s)': False,
  }
