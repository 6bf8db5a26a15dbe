"""The benchmark suite's plumbing: it times the engine's own programs and judges targets right.

No timing is asserted here (speed lives in `python -m bench`); these check what the suite runs
and how it reads its numbers.
"""

import numpy as np

from bench import run, timing, worker


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


def _row(name, ratio, peer='torch f32', compile_s=1.0, **kw):
  return {'workload': name, 'ratio': ratio, 'peer': peer, 'compile_seconds': compile_s, **kw}


def test_targets_are_judged_against_the_issue_goals():
  rows = [
    _row('1. MLP', 4.2),
    _row('2. CNN f32', 2.1, roofline_fraction=0.40),
    _row('2. CNN best vs bf16', 1.6, peer='torch bf16 autocast'),
    {
      'workload': '3. sweep',
      'ratio': 1.2,
      'peer': 'torch f32 loop',
      'jax_peak_rss_mb': 900.0,
      'torch_peak_rss_mb': 1000.0,
    },
    _row('4. LeNet', 1.3, compile_s=12.0),
  ]
  met = {t['target']: t['met'] for t in run.targets(rows, {'amx_bf16': False})}
  assert met == {
    'MLP epoch vs torch f32': True,
    'CNN step f32 vs torch f32': True,
    'CNN step f32, share of the f32 matmul roofline': False,
    'CNN step, fastest jax vs torch autocast bf16 (AMX hosts)': None,  # no AMX: not judged
    'Caffe LeNet step vs torch f32': False,
    '10-rate sweep end to end vs torch (same work)': False,
    'sweep peak RSS, jax / torch': True,
    'slowest compile (s)': False,
    'whole test suite (s)': None,  # not run
  }
  amx = {t['target']: t['met'] for t in run.targets(rows, {'amx_bf16': True})}
  assert amx['CNN step, fastest jax vs torch autocast bf16 (AMX hosts)'] is True


def test_a_target_from_a_loaded_machine_says_so():
  rows = [_row('1. MLP', 4.2, clean=False), _row('4. LeNet', 1.6, clean=True)]
  notes = {t['target']: t['note'] for t in run.targets(rows)}
  assert 'not clean' in notes['MLP epoch vs torch f32']
  assert notes['Caffe LeNet step vs torch f32'] == ''


def test_the_sweep_peer_does_the_findings_evaluations():
  """The PyTorch loop gets the finding's own rates, epochs and evaluated images."""
  from experiments import dropout_sweep

  c = dropout_sweep.get_config()
  spec = run.sweep_spec()
  assert spec['rates'] == list(c.sweep.model.dropout_rate) and len(spec['rates']) == 10
  assert (spec['epochs'], spec['batch_size']) == (c.train.epochs, c.train.batch_size)
  assert (spec['eval_train_size'], spec['validation_size']) == (10000, 5000)


def test_rounds_alternate_and_report_medians():
  calls = []

  def variant(name, rate):
    return lambda min_time: (calls.append(name), (rate, 0.0))[1]

  res = timing.interleave_rounds(
    {'a': variant('a', 1.0), 'b': variant('b', 3.0)}, rounds=3, quiet_wait=0.0
  )
  assert calls == ['a', 'b', 'b', 'a', 'a', 'b']
  assert res['b']['median'] == 3.0 and res['a']['clean'] and len(res['a']['samples']) == 3


def test_a_worker_times_in_its_own_process_and_reports_its_peak_rss():
  import os

  with worker.Worker({'framework': 'jax', 'workload': 'matmul', 'n': 64}) as w:
    assert w.info['flops_per_item'] == 2.0 * 64**3
    rate, other = w.round(0.05)
    assert rate > 0 and other >= 0
    assert w.proc.pid != os.getpid()
  assert w.peak_rss_mb > 50  # a process that imported jax
