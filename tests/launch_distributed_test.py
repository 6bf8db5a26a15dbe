"""A job of two processes on localhost, joined by jax.distributed (CPU collectives over gloo).

Each process has one CPU device, so the job's mesh spans both: sweep parallel puts one model on
each process; data parallel splits each batch between them. Both must train what one process
trains, with process 0 alone writing, and resume each other's checkpoints.
"""

import glob
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
from launch_test import REPO, _env

from engine import distributed
from engine.errors import UserError

# A small real run: 2 architectures x 2 seeds, 2 epochs on 3,000 MNIST images, with dropout.
ARGS = [
  '--experiment=depth_vs_width',
  '--quick',
  '--config.seeds=2',
  '--config.sweep.model.hidden=((16,),(8,8))',
  '--noprogress',
]


def _free_port():
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def _job(env, workdir, *extra, processes=2):
  """Runs launch.py as `processes` processes of one job; returns their (returncode, stdout)."""
  port = _free_port()
  env = dict(env, JAX_NUM_CPU_DEVICES='1', JAX_PLATFORMS='cpu')
  cmd = [sys.executable, str(REPO / 'launch.py'), *ARGS, f'--workdir={workdir}', *extra]
  if processes > 1:
    cmd += [f'--coordinator_address=127.0.0.1:{port}', f'--num_processes={processes}']
  procs = [
    subprocess.Popen(
      cmd + ([f'--process_id={i}'] if processes > 1 else []),
      env=env,
      cwd=env['_TEST_CWD'],
      stdout=subprocess.PIPE,
      stderr=subprocess.PIPE,
      text=True,
    )
    for i in range(processes)
  ]
  try:
    outs = [p.communicate(timeout=600) for p in procs]
  finally:
    for p in procs:
      p.kill()
  return [(p.returncode, out, err) for p, (out, err) in zip(procs, outs)]


def _records(workdir):
  with open(os.path.join(workdir, 'results.json')) as f:
    return json.load(f)


def _same_training(a, b):
  assert [(r['label'], r['seed']) for r in a['records']] == [
    (r['label'], r['seed']) for r in b['records']
  ]
  for ra, rb in zip(a['records'], b['records']):
    for key, va in ra['history'].items():
      np.testing.assert_allclose(va, rb['history'][key], rtol=1e-5, atol=1e-5, err_msg=key)


@pytest.fixture(scope='module')
def runs(shared_datasets, tmp_path_factory):
  tmp = tmp_path_factory.mktemp('distributed')
  env = _env(shared_datasets, tmp)
  alone = _job(env, tmp / 'alone', processes=1)
  job = _job(env, tmp / 'job')
  return env, tmp, alone, job


def test_two_processes_train_what_one_process_trains(runs):
  _, tmp, alone, job = runs
  assert [rc for rc, _, _ in alone + job] == [0, 0, 0], [err[-3000:] for _, _, err in job]
  assert '2 models on 2 device(s): 2 model shard(s) x 1 data shard(s)' in job[0][1] + job[0][2]
  one, two = _records(tmp / 'alone'), _records(tmp / 'job')
  _same_training(two, one)
  assert two['verdict'] == one['verdict']


def test_only_process_zero_writes(runs):
  _, tmp, _, job = runs
  assert 'Report:' in job[0][1] and 'Report:' not in job[1][1]
  runs_dirs = glob.glob(str(tmp / 'job' / 'tensorboard' / '*' / 'seed*'))
  assert len(runs_dirs) == 4
  for d in runs_dirs:  # a second writer would have left a second event file
    assert len(os.listdir(d)) == 1, os.listdir(d)


def test_a_job_resumes_the_checkpoints_of_another_layout(runs):
  """Results lost after the last checkpoint: the data-parallel rerun restores the sweep-parallel
  job's orbax checkpoints in both processes, and trains nothing."""
  env, tmp, _, _ = runs
  first = _records(tmp / 'job')
  for path in glob.glob(str(tmp / 'job' / 'groups' / '*' / 'result.json')):
    os.remove(path)
  again = _job(env, tmp / 'job', '--config.parallel.mode=data')
  assert [rc for rc, _, _ in again] == [0, 0], [err[-3000:] for _, _, err in again]
  said = again[0][1] + again[0][2]  # off a terminal, the loop's lines are log lines on stderr
  assert said.count('resuming from checkpoint at epoch 2, step 0') == 2
  assert '2 models on 2 device(s): 1 model shard(s) x 2 data shard(s)' in said
  _same_training(_records(tmp / 'job'), first)


@pytest.mark.parametrize(
  'environ, detected',
  [
    ({}, False),
    ({'JAX_COORDINATOR_ADDRESS': '10.0.0.1:1234'}, True),
    ({'SLURM_JOB_ID': '7', 'SLURM_STEP_NODELIST': 'n[1-2]', 'SLURM_NTASKS': '8'}, True),
    ({'SLURM_JOB_ID': '7', 'SLURM_STEP_NODELIST': 'n1', 'SLURM_NTASKS': '1'}, False),
    ({'SLURM_JOB_ID': '7', 'SLURM_NTASKS': '8'}, False),  # sbatch's shell, not an srun step
    ({'OMPI_COMM_WORLD_SIZE': '4'}, True),
  ],
)
def test_cluster_detection(environ, detected):
  assert distributed.cluster_detected(environ) is detected


def test_one_process_stays_one_process():
  assert distributed.initialize('auto', environ={}) is False
  assert distributed.initialize('off', '127.0.0.1:1', 2, 0, environ={}) is False


def test_half_given_job_is_refused_with_the_fix():
  with pytest.raises(UserError, match='--coordinator_address, --process_id not given'):
    distributed.initialize('auto', num_processes=2, environ={})
  with pytest.raises(UserError, match='JAX_PROCESS_ID must be an integer'):
    distributed.initialize('auto', environ={'JAX_PROCESS_ID': 'one'})


def test_a_model_of_the_job_restores_in_one_process(runs, shared_datasets):
  """The job's checkpoint (arrays over two processes' devices) onto this process's one device:
  the restored model scores its recorded test accuracy."""
  import ml_collections

  from engine import checkpoints, loop, run, sweep

  _, tmp, _, _ = runs
  results = _records(tmp / 'job')
  config = ml_collections.ConfigDict(results['config'])
  config.dataset.data_dir = shared_datasets
  record = results['records'][1]  # the second seed of the first group
  variables = checkpoints.restore_variables(
    str(tmp / 'job' / 'groups' / record['group'] / 'checkpoints'), 1
  )
  model = loop.build_model(sweep.apply_point(config, record['point']).model)
  ds = run.load_dataset(config)
  logits = model.apply(variables, ds.test_x, train=False)
  accuracy = float((np.argmax(logits, -1) == ds.test_y).mean())
  assert abs(accuracy - record['final']['test_accuracy']) <= 1 / len(ds.test_y)
