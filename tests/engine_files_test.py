"""Work dirs through etils.epath: a remote one (a fake gs:// in memory) gets every file of a run
and no local directory named `gs:` appears."""

import json
import os

import fsspec
import pytest
from etils import epath
from fsspec.implementations.memory import MemoryFileSystem

from engine import files, run
from experiments import loocv


class _FakeGCS(MemoryFileSystem):
  """fsspec's in-memory filesystem under the gs:// scheme, where epath looks for gcsfs."""

  protocol = ('gs', 'gcs')
  root_marker = ''
  store: dict = {}  # noqa: RUF012  (fsspec's own class-level store, one per class)
  pseudo_dirs: list = ['']  # noqa: RUF012


@pytest.fixture
def fake_gcs(monkeypatch):
  for name in ('gcs', 'gs'):
    fsspec.register_implementation(name, _FakeGCS, clobber=True)
  type(epath.backend.fsspec_backend)._get_filesystem.cache_clear()  # epath keeps one per scheme
  _FakeGCS.store.clear()
  yield _FakeGCS.store
  _FakeGCS.store.clear()


def test_files_round_trip_through_a_remote_work_dir(fake_gcs, tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  assert files.workdir('gs://bucket/run') == 'gs://bucket/run'
  files.write_json('gs://bucket/run/status.json', {'state': 'running'})
  files.write_bytes('gs://bucket/run/plot.png', b'\x89PNG')
  assert files.exists('gs://bucket/run/status.json')
  assert files.read_json('gs://bucket/run/status.json') == {'state': 'running'}
  assert sorted(fake_gcs) == ['gs://bucket/run/plot.png', 'gs://bucket/run/status.json']
  assert not os.listdir(tmp_path)


def test_a_finding_runs_into_a_remote_work_dir(fake_gcs, tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  config = loocv.get_config('quick')
  results = run.run(loocv, config, 'gs://bucket/loocv', progress=False, command='test')
  names = {k.removeprefix('gs://bucket/loocv/') for k in fake_gcs}
  assert {'config.json', 'status.json', 'results.json', 'report.md', 'metrics.jsonl'} <= names
  assert any(n.endswith('.png') for n in names)
  stored = json.loads(fake_gcs['gs://bucket/loocv/results.json'].getvalue())
  assert stored['verdict'] == json.loads(json.dumps(results['verdict']))
  assert json.loads(fake_gcs['gs://bucket/loocv/status.json'].getvalue())['state'] == 'finished'
  assert not os.listdir(tmp_path)  # nothing local, no `gs:` directory


def test_training_into_s3_is_refused_before_anything_is_written(fake_gcs, tmp_path, monkeypatch):
  """gs:// trains (tests/engine_remote_workdir_test.py); orbax cannot write arrays to s3://."""
  monkeypatch.chdir(tmp_path)
  from engine import finding as finding_lib
  from engine.errors import UserError

  example = finding_lib.load_file(
    os.path.join(os.path.dirname(__file__), '..', 'examples', 'my_finding.py')
  )
  with pytest.raises(UserError, match='orbax writes checkpoint arrays'):
    run.run(example, example.config('quick'), 's3://bucket/run', progress=False)
  assert not fake_gcs and not os.listdir(tmp_path)
