"""SIGTERM to a job of two processes (jax.distributed on localhost, one CPU device each).

jax's preemption service owns SIGTERM there: whichever process gets it tells the others, they
agree on a check none of them has passed, all save the same position into one orbax checkpoint
and exit 75. A rerun resumes it and ends with an uninterrupted job's numbers.
"""

import json
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
from launch_distributed_test import _free_port
from launch_test import REPO, _env

from engine import preemption

# Two groups (widths 8 and 32) of two seeds each, one model per process; 2 epochs of 46 steps.
# The second group is the margin: jax looks for SIGTERM once a second, and a save agreed after the
# first group ends happens in the second. A check every 2 steps (one program: 46 = 23 x 2), so the
# agreed position is usually inside an epoch.
ARGS = [
  f'--config={REPO / "examples" / "my_finding.py"}:quick',
  '--config.sweep.model.hidden=((8,),(32,))',
  '--config.seeds=2',
  '--config.train.epochs=2',
  '--config.train.steps_per_call=2',
  '--config.checkpoint_every_secs=1e9',  # only epoch ends and the preemption save
  '--noprogress',
]
SAVED = re.compile(r'(group_\d+): preempted; saved at epoch (\d+), step (\d+)\.')


class _Job:
  """launch.py as two processes of one job, their output collected as it comes."""

  def __init__(self, env, workdir):
    env = dict(env, JAX_NUM_CPU_DEVICES='1', JAX_PLATFORMS='cpu')
    cmd = [sys.executable, str(REPO / 'launch.py'), *ARGS, f'--workdir={workdir}']
    cmd += [f'--coordinator_address=127.0.0.1:{_free_port()}', '--num_processes=2']
    self.procs = [
      subprocess.Popen(
        cmd + [f'--process_id={i}'],
        env=env,
        cwd=env['_TEST_CWD'],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
      )
      for i in range(2)
    ]
    self.out, self.err = [[], []], [[], []]
    self._readers = [
      threading.Thread(target=_read, args=(stream, lines), daemon=True)
      for p, out, err in zip(self.procs, self.out, self.err)
      for lines, stream in ((out, p.stdout), (err, p.stderr))
    ]
    for r in self._readers:
      r.start()

  def wait_for(self, text, timeout=300):
    """Waits until process 0 logs `text`; fails if the job ends or the time runs out first."""
    deadline = time.monotonic() + timeout
    while not any(text in line for line in list(self.err[0])):
      if time.monotonic() > deadline or all(p.poll() is not None for p in self.procs):
        self.kill()
        pytest.fail(f'never logged {text!r}: {"".join(self.err[0])[-3000:]}')
      time.sleep(0.05)

  def finish(self, timeout=300):
    """(return code, stdout, stderr) of each process."""
    try:
      codes = [p.wait(timeout=timeout) for p in self.procs]
    finally:
      self.kill()
    for r in self._readers:
      r.join(timeout=10)
    return [(c, ''.join(o), ''.join(e)) for c, o, e in zip(codes, self.out, self.err)]

  def kill(self):
    for p in self.procs:
      p.kill()


def _read(stream, lines):
  for line in stream:
    lines.append(line)


def _records(workdir):
  """Each model's numbers in results.json: everything but the wall times."""
  results = json.loads((workdir / 'results.json').read_text())
  return [(r['label'], r['seed'], r['history'], r['final']) for r in results['records']]


def _state(workdir):
  return json.loads((workdir / 'status.json').read_text())['state']


@pytest.fixture(scope='module')
def job(shared_datasets, tmp_path_factory):
  """The environment, a tmp dir, and an uninterrupted job's records."""
  tmp = tmp_path_factory.mktemp('preemption')
  env = _env(shared_datasets, tmp)
  done = _Job(env, tmp / 'straight').finish()
  assert [c for c, _, _ in done] == [0, 0], [e[-3000:] for _, _, e in done]
  return env, tmp, _records(tmp / 'straight')


def _preempt(env, workdir, to):
  """Starts a job, sends SIGTERM to processes `to` once the first epoch is logged, checks that
  both processes saved one position together and stopped; returns (group, epoch, step) of it."""
  started = _Job(env, workdir)
  started.wait_for('group_000: epoch 1/2')
  for i in to:
    started.procs[i].send_signal(signal.SIGTERM)
  ended = started.finish()
  assert [c for c, _, _ in ended] == [preemption.EXIT_CODE] * 2, [e[-3000:] for _, _, e in ended]
  saved = [SAVED.findall(err) for _, _, err in ended]
  assert len(saved[0]) == 1, saved  # one save, by the group in training
  assert saved[1] == saved[0], 'the processes saved different positions'
  assert _state(workdir) == 'preempted'
  group, epoch, step = saved[0][0]
  checkpoints = workdir / 'groups' / group / 'checkpoints'
  assert not list(checkpoints.glob('*tmp*')), 'a save left unfinished'
  # Every checkpoint step holds the parts of both processes (orbax writes one per process).
  for saved_step in checkpoints.iterdir():
    parts = {p.name for p in saved_step.glob('default/ocdbt.process_*')}
    assert parts == {'ocdbt.process_0', 'ocdbt.process_1'}, (saved_step.name, parts)
  return group, int(epoch), int(step)


def test_sigterm_to_every_process_saves_one_agreed_step_and_the_rerun_equals_a_straight_run(job):
  """As SLURM does on preemption: every task gets SIGTERM."""
  env, tmp, straight = job
  workdir = tmp / 'both'
  group, epoch, step = _preempt(env, workdir, to=(0, 1))
  assert not (workdir / 'groups' / group / 'result.json').exists()

  again = _Job(env, workdir).finish()
  assert [c for c, _, _ in again] == [0, 0], [e[-3000:] for _, _, e in again]
  assert f'{group}: resuming from checkpoint at epoch {epoch}, step {step}.' in again[0][2]
  assert _records(workdir) == straight
  assert _state(workdir) == 'finished'


def test_sigterm_to_one_process_stops_both_at_one_agreed_step(job):
  """A spot VM's notice reaches one host: the other process learns it from jax's service."""
  env, tmp, _ = job
  _preempt(env, tmp / 'one', to=(1,))
