"""The persistent compilation cache: on by default, in the directory asked for, off on request."""

import json
import os
import pathlib
import subprocess
import sys

from engine import compile_cache

REPO = pathlib.Path(__file__).resolve().parents[1]


def _run(tmp_path, shared_datasets, *args, env_cache=None):
  env = dict(os.environ, JAX_FINDINGS_DATA=shared_datasets)
  env.pop('JAX_COMPILATION_CACHE_DIR', None)
  if env_cache:
    env['JAX_COMPILATION_CACHE_DIR'] = str(env_cache)
  return subprocess.run(
    [sys.executable, str(REPO / 'launch.py'), '--noprogress', '--experiment=lr_decay', '--quick',
     '--config.train.epochs=2', *args],
    cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
  )  # fmt: skip


def test_a_run_fills_the_cache_it_is_given_and_a_rerun_matches(tmp_path, shared_datasets):
  cache = tmp_path / 'xla'
  first = _run(tmp_path, shared_datasets, f'--compilation_cache={cache}', '--workdir=a')
  assert first.returncode == 0, first.stderr
  entries = list(cache.iterdir())
  assert entries, 'nothing was cached'
  again = _run(tmp_path, shared_datasets, f'--compilation_cache={cache}', '--workdir=b')
  assert again.returncode == 0, again.stderr
  records = [json.loads((tmp_path / w / 'results.json').read_text())['records'] for w in 'ab']
  assert [r['history'] for r in records[0]] == [r['history'] for r in records[1]]


def test_the_environment_variable_wins_and_off_caches_nothing(tmp_path, shared_datasets):
  env_cache = tmp_path / 'from_env'
  out = _run(tmp_path, shared_datasets, '--workdir=a', env_cache=env_cache)
  assert out.returncode == 0, out.stderr
  assert list(env_cache.iterdir())
  off_cache = tmp_path / 'never'
  out = _run(tmp_path, shared_datasets, '--compilation_cache=off', '--workdir=b',
             env_cache=off_cache)  # fmt: skip
  assert out.returncode == 0, out.stderr
  assert not off_cache.exists() or not list(off_cache.iterdir())


def test_the_default_directory_is_per_user_and_per_machine(monkeypatch, tmp_path):
  monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path))
  path = compile_cache.default_directory()
  assert path.startswith(str(tmp_path / 'jax-findings' / 'xla'))
  assert len(os.path.basename(path).rsplit('-', 1)[-1]) == 10  # the CPU fingerprint
