"""The command line, end to end in subprocesses: errors, a quick real run, resume after a kill."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import launch_in_process

from experiments import dropout_sweep

REPO = pathlib.Path(__file__).resolve().parents[1]


def _env(shared_datasets, tmp_path):
  env = dict(
    os.environ,
    JAX_FINDINGS_DATA=shared_datasets,
    JAX_FINDINGS_CACHE=str(tmp_path / 'cache'),
    TFDS_DATA_DIR=str(tmp_path / 'tfds'),
    _TEST_CWD=str(tmp_path),
  )
  env.pop('JAX_FINDINGS_RUNS', None)
  return env


def _launch(args, env):
  """Runs launch.py from the test's tmp dir, so the default work dir `runs/...` is relative."""
  return subprocess.run(
    [sys.executable, str(REPO / 'launch.py'), '--noprogress', *args],
    cwd=env['_TEST_CWD'],
    env=env,
    capture_output=True,
    text=True,
    timeout=300,
  )


def test_list_names_every_finding(shared_datasets, tmp_path):
  out = _launch(['--list'], _env(shared_datasets, tmp_path))
  assert out.returncode == 0
  assert out.stdout.startswith('dropout_sweep') and 'underfitting' in out.stdout


def test_start_up_leaves_plotting_and_statistics_to_the_end():
  """A run imports matplotlib at its first plot and scipy.stats at its verdict, not at start-up:
  together they cost about 1.5 s per launch and 90 MB of resident memory through training."""
  code = (
    'import importlib, pkgutil, sys; sys.argv = ["launch.py"]; import launch, engine.planar, '
    'experiments; [importlib.import_module(f"experiments.{m.name}") '
    'for m in pkgutil.iter_modules(experiments.__path__)]; '  # what --list and --experiment=all do
    'print(sorted(m for m in ("scipy", "matplotlib") if m in sys.modules))'
  )
  out = subprocess.run(
    [sys.executable, '-c', code], cwd=REPO, capture_output=True, text=True, timeout=120
  )
  assert out.returncode == 0, out.stderr[-2000:]
  assert out.stdout.strip().splitlines()[-1] == '[]'


@pytest.mark.parametrize(
  'args,message',
  [
    (
      ['--experiment=dropout_sweeep'],
      'Did you mean `dropout_sweep`? Known experiments: dropout_sweep',
    ),
    (
      ['--experiment=dropout_sweep', '--config.train.epoch=2'],
      'Did you mean --config.train.epochs',
    ),
    (['--experiment=dropout_sweep', '--config.seeds=two'], 'expects an integer'),
    (
      ['--experiment=dropout_sweep', '--config.sweep.model.dropout_rate=(0.0,1.0)'],
      'outside [0, 1)',
    ),
    (
      ['--experiment=dropout_sweep', '--quick', '--config.train.batch_size=100000'],
      'larger than the training set',
    ),
    (['--experiment=all', '--config.seeds=2'], 'takes no --config.* overrides'),
    (['--experiment=loocv,dropout_sweeep'], "Unknown experiment 'dropout_sweeep'"),
    (['--experiment=all', '--worker=0/2'], 'splits the groups of one finding'),
    (
      ['--experiment=dropout_sweep', '--config.parallel.mode=model'],
      'pick one of auto, sweep, data',
    ),
    (['--experiment=dropout_sweep', '--config.parallel.devices=64'], 'more devices than'),
    (['--experiment=dropout_sweep', '--num_processes=2'], 'needs all of --coordinator_address'),
  ],
)
def test_bad_input_is_one_clear_message_and_a_nonzero_exit(
  shared_datasets, tmp_path, args, message
):
  out = launch_in_process(args, _env(shared_datasets, tmp_path), tmp_path)
  assert out.returncode == 2
  assert message in out.stderr
  assert 'Traceback' not in out.stderr + out.stdout
  assert not (tmp_path / 'runs').exists()  # nothing half-made was left behind


def test_several_findings_run_in_worker_processes_with_one_summary(shared_datasets, tmp_path):
  out = _launch(
    ['--experiment=loocv,architectures', '--quick', '--workers=2'], _env(shared_datasets, tmp_path)
  )
  assert out.returncode == 0, out.stderr[-3000:]
  assert '2 worker processes' in out.stdout and '[worker 1]' in out.stdout
  summary = (tmp_path / 'runs' / 'findings-quick.md').read_text()
  table = summary.split('## Every claim')[0]
  lines = {line.split()[0]: line for line in table.splitlines() if line.strip()}
  for name in ('loocv', 'architectures'):
    results = json.loads((tmp_path / 'runs' / f'{name}-quick' / 'results.json').read_text())
    outcome = results['verdict']['outcome']
    assert f'{name}  ' in lines[name] and f'  {outcome}  ' in lines[name]
    assert f'runs/{name}-quick' in lines[name]
  assert summary.count('003 P7') >= 4  # loocv's claim rows, gathered from its worker


def test_several_findings_one_after_another_in_this_process(shared_datasets, tmp_path):
  out = launch_in_process(
    ['--experiment=loocv,loocv', '--quick', '--workers=1'],
    _env(shared_datasets, tmp_path),
    tmp_path,
  )
  assert out.returncode == 0, out.stderr[-3000:]
  assert out.stdout.count('=== loocv') == 1
  summary = (tmp_path / 'runs' / 'findings-quick.md').read_text()
  assert 'loocv' in summary and 'worker' not in summary.split('## Every claim')[0]


def test_missing_dataset_says_how_to_provide_it(tmp_path):
  empty = tmp_path / 'empty'
  empty.mkdir()
  out = _launch(
    [
      '--experiment=dropout_sweep',
      '--quick',
      '--config.dataset.allow_standin=false',
      '--config.dataset.download=false',
    ],
    _env(str(empty), tmp_path),
  )
  assert out.returncode == 2 and 'Traceback' not in out.stderr
  assert 'JAX_FINDINGS_DATA' in out.stderr and 'train-images-idx3-ubyte' in out.stderr


def test_truncated_dataset_file_is_named(shared_datasets, tmp_path):
  bad = tmp_path / 'bad' / 'mnist'
  bad.mkdir(parents=True)
  for f in pathlib.Path(shared_datasets, 'mnist').glob('*.gz'):
    (bad / f.name).write_bytes(f.read_bytes())
  raw = (bad / 't10k-labels-idx1-ubyte.gz').read_bytes()
  (bad / 't10k-labels-idx1-ubyte.gz').write_bytes(raw[: len(raw) // 2])
  out = _launch(['--experiment=dropout_sweep', '--quick'], _env(str(bad.parent), tmp_path))
  assert out.returncode == 2 and 'Traceback' not in out.stderr
  assert 't10k-labels-idx1-ubyte.gz' in out.stderr


def test_a_work_dir_of_another_config_is_refused(shared_datasets, tmp_path):
  workdir = tmp_path / 'w'
  workdir.mkdir()
  config = json.loads(dropout_sweep.get_config('quick').to_json())
  config['seeds'] = 5
  (workdir / 'config.json').write_text(
    json.dumps({'experiment': 'dropout_sweep', 'config': config})
  )
  out = _launch(
    ['--experiment=dropout_sweep', '--quick', f'--workdir={workdir}'],
    _env(shared_datasets, tmp_path),
  )
  assert out.returncode == 2
  assert 'seeds: 5 there, 1 now' in out.stderr and 'rm -rf' in out.stderr


def _spearman(x, y):
  rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
  return np.corrcoef(rx, ry)[0, 1]


def test_quick_dropout_sweep_end_to_end_and_rerun_resumes(shared_datasets, tmp_path):
  env = _env(shared_datasets, tmp_path)
  out = _launch(['--experiment=dropout_sweep', '--quick'], env)
  assert out.returncode == 0, out.stderr
  workdir = tmp_path / 'runs' / 'dropout_sweep-quick'  # the default work dir, relative to cwd
  for name in (
    'report.md',
    'results.json',
    'config.json',
    'status.json',
    'metrics.jsonl',
    'accuracy_vs_dropout_rate.png',
    'groups/group_000/result.json',
  ):
    assert (workdir / name).is_file(), name
  assert list((workdir / 'groups/group_000/checkpoints').iterdir())
  assert len(list((workdir / 'tensorboard').glob('*/seed0/events.out.tfevents.*'))) == 3
  results = json.loads((workdir / 'results.json').read_text())
  status = json.loads((workdir / 'status.json').read_text())
  assert status['state'] == 'finished'
  assert results['dataset']['standin'] is False

  # The verdict is computed from the measured values.
  rates = sorted({r['point']['model.dropout_rate'] for r in results['records']})
  assert rates == [0.0, 0.5, 0.9]
  means = [
    np.mean(
      [
        r['final']['test_accuracy']
        for r in results['records']
        if r['point']['model.dropout_rate'] == rate
      ]
    )
    for rate in rates
  ]
  checks = results['verdict']['claims']
  assert checks[0]['value'] == pytest.approx(_spearman(rates, means))
  assert checks[1]['value'] == pytest.approx(means[0] - means[2])
  assert results['verdict']['outcome'] == 'INCONCLUSIVE'  # one seed
  assert all(0.05 < m < 1.0 for m in means) and means[0] > 0.6  # it really trained
  report = (workdir / 'report.md').read_text()
  assert f'{means[0]:.4f}' in report and 'INCONCLUSIVE' in report
  assert f'{means[0]:.4f}' in out.stdout
  lines = (workdir / 'metrics.jsonl').read_text().splitlines()
  assert len(lines) == 3 and json.loads(lines[0])['epoch'] == 1

  again = _launch(['--experiment=dropout_sweep', '--quick'], env)
  assert again.returncode == 0
  assert 'finished earlier; not trained again' in again.stdout
  assert json.loads((workdir / 'results.json').read_text())['records'] == results['records']


def _has_finalized_checkpoint(ckpts):
  """Orbax writes `commit_success.txt` into `<step>.orbax-checkpoint-tmp-*` and then renames the
  directory, so only a marked directory under its final name is a checkpoint a rerun finds."""
  return ckpts.is_dir() and any(
    d.name.isdigit() and (d / 'commit_success.txt').exists() for d in ckpts.iterdir()
  )


def test_killed_run_resumes_to_the_same_results(shared_datasets, tmp_path):
  env = _env(shared_datasets, tmp_path)
  args = [
    '--experiment=dropout_sweep',
    '--quick',
    '--config.train.epochs=2',
    '--config.checkpoint_every_secs=0',
  ]
  straight = _launch(args + [f'--workdir={tmp_path / "a"}'], env)
  assert straight.returncode == 0, straight.stderr

  workdir = tmp_path / 'b'
  ckpts = workdir / 'groups' / 'group_000' / 'checkpoints'
  proc = subprocess.Popen(
    [sys.executable, str(REPO / 'launch.py'), '--noprogress', *args, f'--workdir={workdir}'],
    cwd=tmp_path,
    env=env,
    stdout=subprocess.DEVNULL,
    stderr=subprocess.DEVNULL,
  )
  deadline = time.time() + 240
  while time.time() < deadline and not _has_finalized_checkpoint(ckpts):
    time.sleep(0.05)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  assert not (workdir / 'groups/group_000/result.json').exists(), 'killed too late'

  resumed = _launch(args + [f'--workdir={workdir}'], env)
  assert resumed.returncode == 0, resumed.stderr
  assert 'resuming from checkpoint' in resumed.stdout + resumed.stderr  # a log line off a TTY
  a = json.loads((tmp_path / 'a' / 'results.json').read_text())['records']
  b = json.loads((workdir / 'results.json').read_text())['records']
  assert [r['history'] for r in a] == [r['history'] for r in b]
