"""Faults a cluster job meets, end to end: SIGTERM, a damaged result, full and unusable work dirs,
runs that never trained, numbers that make no sense, file modes, logs, --deterministic."""

import json
import os
import pathlib
import shutil
import signal
import struct
import subprocess
import sys
import time

import pytest
from launch_test import REPO, _env

from engine import cli, files, preemption, run, tensorboard
from engine.errors import UserError
from experiments import dropout_sweep

# One tiny finding for every subprocess here: two MLP widths, 1500 images, two epochs.
TINY = [
  f'--config={REPO / "examples" / "my_finding.py"}:quick',
  '--config.sweep.model.hidden=((8,),(32,))',
  '--config.train.epochs=2',
  '--config.checkpoint_every_secs=1e9',  # only epoch ends and the interrupt save
]


def _launch(args, env, progress=False):
  return subprocess.run(
    [sys.executable, str(REPO / 'launch.py'), *([] if progress else ['--noprogress']), *args],
    cwd=env['_TEST_CWD'],
    env=env,
    capture_output=True,
    text=True,
    timeout=300,
  )


def _histories(workdir):
  results = json.loads((workdir / 'results.json').read_text())
  return [(r['label'], r['seed'], r['history']) for r in results['records']]


def _events(path: pathlib.Path):
  """(tag, step) of every summary value in a TensorBoard event file (the TFRecord framing)."""
  with tensorboard.torch_hidden():
    from tensorboardX.proto import event_pb2

  out, data, i = [], path.read_bytes(), 0
  while i < len(data):
    (n,) = struct.unpack('<Q', data[i : i + 8])
    event = event_pb2.Event.FromString(data[i + 12 : i + 12 + n])
    i += 12 + n + 4
    out += [(v.tag, event.step) for v in event.summary.value]
  return out


def test_sigterm_saves_marks_preempted_and_the_rerun_equals_an_uninterrupted_run(
  shared_datasets, tmp_path
):
  env = _env(shared_datasets, tmp_path)
  straight = _launch(TINY + [f'--workdir={tmp_path / "a"}'], env)
  assert straight.returncode == 0, straight.stderr

  workdir = tmp_path / 'b'
  proc = subprocess.Popen(  # with progress on, as a user would: stderr is not a terminal
    [sys.executable, str(REPO / 'launch.py'), *TINY, f'--workdir={workdir}'],
    cwd=tmp_path,
    env=env,
    stdout=subprocess.PIPE,
    stderr=subprocess.PIPE,
    text=True,
  )
  lines = []
  for line in proc.stderr:  # absl's log lines, one per epoch
    lines.append(line)
    if 'group_000: epoch 1/2' in line:
      proc.send_signal(signal.SIGTERM)
      break
  rest, _ = proc.communicate(timeout=120)
  stderr = ''.join(lines) + proc.stderr.read() if not proc.stderr.closed else ''.join(lines)
  assert proc.returncode == preemption.EXIT_CODE, (stderr, rest)
  status = json.loads((workdir / 'status.json').read_text())
  assert status['state'] == 'preempted'
  assert not (workdir / 'groups/group_000/result.json').exists(), 'terminated too late'
  assert '\r' not in ''.join(lines)  # no progress bar where stderr is a log file

  resumed = _launch(TINY + [f'--workdir={workdir}'], env, progress=True)
  assert resumed.returncode == 0, resumed.stderr
  assert 'group_000: resuming from checkpoint at epoch 1' in resumed.stderr
  assert _histories(workdir) == _histories(tmp_path / 'a')
  assert json.loads((workdir / 'status.json').read_text())['state'] == 'finished'

  # TensorBoard: every epoch of every run, once, and the run's hyperparameters once.
  for run_dir in (workdir / 'tensorboard').glob('*/seed0'):
    events = [e for f in sorted(run_dir.glob('events.out.tfevents.*')) for e in _events(f)]
    assert sorted(s for t, s in events if t == 'test_accuracy') == [1, 2], run_dir
    assert [t for t, _ in events].count('_hparams_/session_start_info') == 1, run_dir

  # Outputs are readable by the group, as a plain `open` would have made them.
  mask = os.umask(0)
  os.umask(mask)
  for name in ('results.json', 'report.md', 'status.json', 'config.json', 'metrics.jsonl'):
    assert (workdir / name).stat().st_mode & 0o777 == 0o666 & ~mask, name

  # A truncated group result is found and that group trained again, to the same numbers.
  result = workdir / 'groups/group_001/result.json'
  result.write_text(result.read_text()[:100])
  again = _launch(TINY + [f'--workdir={workdir}'], env)
  assert again.returncode == 0, again.stderr
  assert 'group_001/result.json is unreadable' in again.stdout
  assert 'Traceback' not in again.stderr
  assert _histories(workdir) == _histories(tmp_path / 'a')


def test_a_run_whose_loss_exploded_is_inconclusive_not_a_verdict(shared_datasets, tmp_path):
  out = _launch(
    [
      '--experiment=dropout_sweep',
      '--quick',
      '--config.optimizer.learning_rate=1e6',
      '--config.verdict.min_seeds=1',  # so that one seed is not itself the reason
      '--config.dataset.train_subset=1000',
      f'--workdir={tmp_path / "w"}',
    ],
    _env(shared_datasets, tmp_path),
  )
  assert out.returncode == 0, out.stderr
  results = json.loads((tmp_path / 'w' / 'results.json').read_text())
  verdict = results['verdict']
  assert verdict['outcome'] == 'INCONCLUSIVE'
  assert not any(r['diverged'] for r in results['records'])  # finite: no NaN caught it
  assert all(r['exploded'] for r in results['records'])
  assert any('the loss exploded' in r for r in verdict['reasons'])
  assert any('no model trained' in r for r in verdict['reasons'])


def _mount_tmpfs(path, options):
  path.mkdir()
  if shutil.which('mount') is None or os.geteuid() != 0:
    pytest.skip('needs root to mount a small filesystem')
  done = subprocess.run(['mount', '-t', 'tmpfs', '-o', options, 'tmpfs', str(path)])
  if done.returncode:
    pytest.skip('cannot mount tmpfs here')


def test_a_full_disk_is_one_paragraph_and_status_says_failed(shared_datasets, tmp_path):
  disk = tmp_path / 'disk'
  _mount_tmpfs(disk, 'size=64k')
  try:
    out = _launch(TINY + [f'--workdir={disk / "w"}'], _env(shared_datasets, tmp_path))
    status = (disk / 'w' / 'status.json').read_text() if (disk / 'w/status.json').exists() else ''
  finally:
    subprocess.run(['umount', str(disk)])
  assert out.returncode == 1, out.stderr
  # Beside orbax's own error lines (one per failed thread), one paragraph names the cause.
  # (orbax's threads may still be writing theirs, so lines can interleave.)
  assert out.stderr.count('error: Could not write in the work dir') == 1, out.stderr
  assert 'the disk is full (no space left on device)' in out.stderr
  # The partial checkpoint is removed, which leaves room for status.json to say why.
  assert json.loads(status)['state'] == 'failed'
  assert 'No space left' in json.loads(status)['error']


def test_an_unusable_work_dir_is_refused_before_anything_is_made(shared_datasets, tmp_path):
  a_file = tmp_path / 'file'
  a_file.write_text('x')
  read_only = tmp_path / 'ro'
  cases = {
    str(a_file): 'is a file, not a directory',
    str(a_file / 'w'): f'{a_file} is a file',
    '/proc/x': 'not writable',
  }
  for workdir, message in cases.items():
    with pytest.raises(UserError, match=message):
      files.check_workdir(workdir)
  out = _launch(TINY + [f'--workdir={a_file / "w"}'], _env(shared_datasets, tmp_path))
  assert out.returncode == 2 and 'Traceback' not in out.stderr
  assert 'is a file, not a directory' in out.stderr
  _mount_tmpfs(read_only, 'ro,size=64k')
  try:
    with pytest.raises(UserError, match='not writable'):
      files.check_workdir(str(read_only / 'w'))
  finally:
    subprocess.run(['umount', str(read_only)])


@pytest.mark.parametrize(
  'key,value,message',
  [
    ('optimizer.learning_rate', float('nan'), 'must be finite and not negative'),
    ('optimizer.learning_rate', -0.1, 'must be finite and not negative'),
    ('sweep.optimizer.learning_rate', (1e-3, float('nan')), 'at the sweep point'),
    ('checkpoint_every_secs', -1.0, 'checkpoint_every_secs must be'),
    ('checkpoint_every_secs', float('nan'), 'checkpoint_every_secs must be'),
  ],
)
def test_numbers_that_make_no_sense_are_refused(key, value, message):
  import ml_collections

  c = dropout_sweep.get_config('quick')
  *parents, leaf = key.split('.')
  node = c
  for p in parents:
    if p not in node:
      node[p] = ml_collections.ConfigDict()
    node = node[p]
  node[leaf] = value
  with pytest.raises(UserError, match=message):
    run.validate(c)


def test_a_single_value_for_a_sweep_axis_is_refused():
  with pytest.raises(UserError, match='sweep axis: it takes a tuple'):
    cli.prepare(
      ['launch.py', '--experiment=dropout_sweep', '--config.sweep.model.dropout_rate=0.5']
    )
  cli.prepare(
    ['launch.py', '--experiment=dropout_sweep', '--config.sweep.model.dropout_rate=(0.5,)']
  )


def test_deterministic_sets_the_xla_flag_and_refuses_a_contradiction(monkeypatch):
  sys.argv = ['launch.py']
  from jax._src import xla_bridge

  import launch

  monkeypatch.setattr(xla_bridge, 'backends_are_initialized', lambda: False)
  environ = {'XLA_FLAGS': '--xla_cpu_foo=1'}
  launch.deterministic_ops(environ)
  assert environ['XLA_FLAGS'] == '--xla_cpu_foo=1 --xla_gpu_deterministic_ops=true'
  with pytest.raises(UserError, match='sets it to false'):
    launch.deterministic_ops({'XLA_FLAGS': '--xla_gpu_deterministic_ops=false'})
  monkeypatch.setattr(xla_bridge, 'backends_are_initialized', lambda: True)
  with pytest.raises(UserError, match='before JAX starts its backend'):
    launch.deterministic_ops({})


def test_a_signal_inside_a_deferred_block_is_raised_when_it_ends():
  preemption.install()
  try:
    done = []
    with pytest.raises(preemption.Preempted):
      with preemption.deferred():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)
        done.append(1)
    assert done == [1]
  finally:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
