"""Many workers on one work dir, end to end: two by mistake, shards, --workers, bad flags."""

import ast
import contextlib
import json
import os
import pathlib
import re
import subprocess
import sys
import time

import pytest

from engine import files
from engine.errors import UserError

REPO = pathlib.Path(__file__).resolve().parents[1]
FINDING = f'--config={REPO / "examples" / "my_finding.py"}:quick'  # 3 widths: 3 groups
GROUPS = ('group_000', 'group_001', 'group_002')


def _env(shared_datasets, tmp_path):
  env = dict(os.environ, JAX_FINDINGS_DATA=shared_datasets, JAX_FINDINGS_CACHE=str(tmp_path))
  env.pop('JAX_FINDINGS_RUNS', None)
  return env


def _command(workdir, *args):
  return [sys.executable, str(REPO / 'launch.py'), '--noprogress', FINDING, f'--workdir={workdir}']


def _launch(env, workdir, *args):
  out = subprocess.run(
    [*_command(workdir), *args], env=env, capture_output=True, text=True, timeout=600
  )
  return out


def _trained(outputs, group):
  """How many processes trained `group`: each logs one line per epoch (on stderr when it is not a
  terminal), and there is one epoch."""
  return sum(len(re.findall(rf'{group}: epoch 1/1 ', o)) for o in outputs)


def _records(workdir):
  records = json.loads((workdir / 'results.json').read_text())['records']
  return [(r['point'], r['seed'], r['history'], r['final']) for r in records]


@pytest.fixture(scope='module')
def single(shared_datasets, tmp_path_factory):
  """The finding trained by one process alone: what every split must reproduce."""
  tmp = tmp_path_factory.mktemp('single')
  out = _launch(_env(shared_datasets, tmp), tmp / 'run')
  assert out.returncode == 0, out.stderr
  return _records(tmp / 'run')


def test_two_processes_on_one_work_dir_train_each_group_once(single, shared_datasets, tmp_path):
  env, workdir = _env(shared_datasets, tmp_path), tmp_path / 'run'
  procs = [
    subprocess.Popen(
      _command(workdir), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    for _ in range(2)
  ]
  outs = [p.communicate(timeout=600) for p in procs]
  assert [p.returncode for p in procs] == [0, 0], [e for _, e in outs]
  stdout = [o for o, _ in outs]
  assert [_trained([o + e for o, e in outs], g) for g in GROUPS] == [1, 1, 1]
  assert sum('Report: ' in o for o in stdout) == 1  # one process wrote the report
  assert _records(workdir) == single
  assert json.loads((workdir / 'status.json').read_text())['state'] == 'finished'
  assert not list((workdir / 'leases').iterdir())  # every claim released
  assert not list(workdir.rglob('*orbax-checkpoint-tmp*'))


def test_a_killed_workers_group_is_taken_over_by_the_other(single, shared_datasets, tmp_path):
  env, workdir = _env(shared_datasets, tmp_path), tmp_path / 'run'
  procs = {}
  for _ in range(2):
    p = subprocess.Popen(
      _command(workdir), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    procs[p.pid] = p
  leases, victim, deadline = workdir / 'leases', None, time.time() + 400
  while victim is None and time.time() < deadline:
    held = {}
    for f in leases.glob('group_*.json') if leases.is_dir() else []:
      with contextlib.suppress(OSError, ValueError):
        held[json.loads(f.read_text())['pid']] = f.stem
    if set(held) == set(procs):  # both are training: kill one
      victim, group = min(held.items())
    time.sleep(0.02)
  assert victim is not None, 'the two workers never trained at the same time'
  procs[victim].kill()
  procs[victim].communicate()
  survivor = next(p for pid, p in procs.items() if pid != victim)
  out, _ = survivor.communicate(timeout=600)
  assert survivor.returncode == 0, out
  result = json.loads((workdir / 'groups' / group / 'result.json').read_text())
  assert result['worker'].endswith(f':{survivor.pid}')  # it took over the dead worker's group
  assert 'Report: ' in out
  assert _records(workdir) == single


def test_shards_then_local_workers_finish_the_sweep(single, shared_datasets, tmp_path):
  env, workdir = _env(shared_datasets, tmp_path), tmp_path / 'run'
  first = _launch(env, workdir, '--worker=0/2')
  assert first.returncode == 0, first.stderr
  assert [_trained([first.stdout + first.stderr], g) for g in GROUPS] == [
    1,
    0,
    1,
  ]  # groups 0 and 2 of 0..2
  assert 'group_001: not started' in first.stdout and 'Report: ' not in first.stdout
  assert not (workdir / 'report.md').exists()
  assert json.loads((workdir / 'status.json').read_text())['state'] == 'running'

  rest = _launch(env, workdir, '--workers=2')  # two local workers: one trains group_001
  assert rest.returncode == 0, rest.stderr
  assert [_trained([rest.stdout + rest.stderr], g) for g in GROUPS] == [0, 1, 0]
  assert rest.stdout.count('Report: ') == 1, rest.stdout + rest.stderr
  assert {m for m in re.findall(r'\[worker (\d)\]', rest.stdout)} == {'0', '1'}
  assert _records(workdir) == single


@pytest.mark.parametrize(
  'flag, says',
  [
    ('--workers=0', 'at least 1'),
    ('--worker=3/2', 'numbered 0 to n-1'),
    ('--workdir=gs://jax-findings-test/run', 'gcsfs'),
  ],
)
def test_bad_worker_or_workdir_flags_are_one_paragraph_before_anything_is_written(
  flag, says, shared_datasets, tmp_path, tmp_path_factory
):
  env = _env(shared_datasets, tmp_path)
  if 'gs://' in flag:  # gcsfs is in the test extra: hidden here, as where it is not installed
    shim = tmp_path_factory.mktemp('no_gcsfs')
    (shim / 'gcsfs').mkdir()
    (shim / 'gcsfs' / '__init__.py').write_text('raise ImportError("gcsfs hidden by the test")\n')
    env['PYTHONPATH'] = os.pathsep.join(p for p in (str(shim), env.get('PYTHONPATH')) if p)
  args = [sys.executable, str(REPO / 'launch.py'), FINDING, flag]
  if not flag.startswith('--workdir'):
    args.append(f'--workdir={tmp_path / "run"}')
  out = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
  assert out.returncode == 2
  assert says in out.stderr and 'Traceback' not in out.stderr
  assert len(out.stderr.strip().splitlines()) == 1
  assert sorted(p.name for p in tmp_path.iterdir()) == []  # no run dir, no `gs:` dir


def test_workdir_uris():
  assert files.workdir('runs/x') == 'runs/x'
  assert files.workdir('file:///tmp/run') == '/tmp/run'
  assert files.workdir('file://localhost/tmp/run') == '/tmp/run'
  assert not files.is_remote('/tmp/run') and files.is_remote('gs://b/run')
  for bad, says in [
    ('gs:/b/run', 'without its `//`'),
    ('file://other/x', 'must be local'),
    ('memory://run', 'not storage a work dir can live on'),
  ]:
    with pytest.raises(UserError, match=says):
      files.workdir(bad)


def test_a_worker_of_the_job_that_starts_after_the_report_does_not_write_it_again(
  shared_datasets, tmp_path, capsys
):
  """`--workers=N` passes its start time to its workers: one slow to start (a loaded machine)
  finds every group finished and the report written after the job began, and leaves it; a
  rerun started later writes it afresh."""
  from engine import finding as finding_lib
  from engine import run

  finding = finding_lib.load_file(str(REPO / 'examples' / 'my_finding.py'))
  config = finding.config('quick')
  config.dataset.data_dir = shared_datasets
  config.dataset.update(dict(validation_size=100, train_subset=300, test_subset=100))
  workdir = str(tmp_path / 'run')
  job_started = time.time()
  assert run.run(finding, config, workdir, progress=False) is not None  # the first worker
  written = os.stat(os.path.join(workdir, 'report.md')).st_mtime_ns
  capsys.readouterr()

  assert run.run(finding, config, workdir, progress=False, started=job_started) is None
  assert 'wrote the report' in capsys.readouterr().out
  assert os.stat(os.path.join(workdir, 'report.md')).st_mtime_ns == written

  assert run.run(finding, config, workdir, progress=False) is not None  # a later rerun
  assert os.stat(os.path.join(workdir, 'report.md')).st_mtime_ns > written


def test_local_workers_are_told_when_the_job_started(capfd):
  from engine import workers

  before = time.time()
  code = workers.spawn(1, ['-c', 'import sys; print(sys.argv[1:])'], cpus='all')
  assert code == 0
  [line] = capfd.readouterr().out.splitlines()
  args = ast.literal_eval(line.removeprefix('[worker 0] '))
  started = float(next(a for a in args if a.startswith('--job_started=')).split('=')[1])
  assert before <= started <= time.time()


@pytest.mark.skipif(not hasattr(os, 'sched_getaffinity'), reason='no CPU affinity here')
@pytest.mark.parametrize('cpus', ['all', 'share'])
def test_workers_use_every_core_unless_asked_to_share_them(capfd, cpus):
  """Every core by default: XLA:CPU splits a convolution over as many threads as its process has
  cores, so a worker pinned to fewer rounds a conv net's sums differently from one process."""
  from engine import workers

  cores = len(os.sched_getaffinity(0))
  probe = 'import os; print(len(os.sched_getaffinity(0)))'
  kwargs = {} if cpus == 'all' else {'cpus': 'share'}
  assert workers.spawn(2, ['-c', probe], started=1.0, **kwargs) == 0
  seen = sorted(int(line.split('] ')[1]) for line in capfd.readouterr().out.splitlines())
  expected = [cores, cores] if cpus == 'all' else sorted(len(s) for s in workers.cpu_shares(2))
  assert seen == expected
  if cpus == 'share' and cores > 1:
    assert max(seen) < cores
