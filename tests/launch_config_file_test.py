"""`launch.py --config=FILE`: the example finding end to end, every override form, bad input."""

import importlib.metadata
import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tomllib
import yaml
from conftest import launch_in_process

from engine import finding as finding_lib

REPO = pathlib.Path(__file__).resolve().parents[1]
EXAMPLE = REPO / 'examples' / 'my_finding.py'


def _env(shared_datasets, tmp_path):
  env = dict(
    os.environ,
    JAX_FINDINGS_DATA=shared_datasets,
    JAX_FINDINGS_CACHE=str(tmp_path / 'cache'),
    TFDS_DATA_DIR=str(tmp_path / 'tfds'),
    _TEST_CWD=str(tmp_path),
    PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get('PYTHONPATH')])),
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


def _copy_example(tmp_path):
  """The example where a newcomer would have it: examples/my_finding.py under the cwd."""
  (tmp_path / 'examples').mkdir(exist_ok=True)
  return shutil.copy(EXAMPLE, tmp_path / 'examples' / 'my_finding.py')


def _spearman(x, y):
  rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
  return np.corrcoef(rx, ry)[0, 1]


def _config_shown(out):
  assert out.returncode == 0, out.stderr
  assert '*id0' not in out.stdout, 'a value shown as a YAML alias, not written out'
  return yaml.unsafe_load(out.stdout)


def test_example_end_to_end_its_checks_are_the_measured_values(shared_datasets, tmp_path):
  env = _env(shared_datasets, tmp_path)
  out = _launch([f'--config={EXAMPLE}:quick'], env)
  assert out.returncode == 0, out.stderr
  assert 'Data:' not in out.stderr  # absl's INFO lines stay off unless --verbosity is given
  workdir = tmp_path / 'runs' / 'my_finding-quick'
  for name in ('report.md', 'results.json', 'accuracy_vs_width.png'):
    assert (workdir / name).is_file(), name
  results = json.loads((workdir / 'results.json').read_text())
  assert results['dataset']['standin'] is False and results['seeds'] == 1

  records = results['records']
  widths = sorted({r['point']['model.hidden'][0] for r in records})
  assert widths == [8, 32, 128]
  means = [
    np.mean([r['final']['test_accuracy'] for r in records if r['point']['model.hidden'] == [w]])
    for w in widths
  ]
  cfg = results['config']['verdict']
  rho, gain = results['verdict']['claims']
  assert rho['value'] == pytest.approx(_spearman(widths, means))
  shown = lambda c: c['indicated'] or c['result']  # one seed: INCONCLUSIVE, with what it showed
  assert rho['result'] == 'INCONCLUSIVE'
  assert (shown(rho) == 'HOLDS') == (rho['value'] >= cfg['min_spearman'])
  assert gain['value'] == pytest.approx(means[-1] - means[0])
  assert (shown(gain) == 'HOLDS') == (gain['value'] >= cfg['min_gain'] and gain['value'] > 0)
  assert results['verdict']['outcome'] == 'INCONCLUSIVE'  # one seed of the three it needs
  assert means[-1] > 0.5  # it really trained
  report = (workdir / 'report.md').read_text()
  assert f'{means[-1]:.4f}' in report and ':quick' in report

  # The same run as `--config=FILE --quick`, from a relative path, with a (default) override:
  # same config, so the same work dir, and nothing is trained again.
  _copy_example(tmp_path)
  again = _launch(
    ['--config=examples/my_finding.py', '--quick', '-v', '1', '--config.train.epochs', '1'], env
  )
  assert again.returncode == 0, again.stderr
  assert again.stdout.count('finished earlier; not trained again') == 3
  assert 'Data:' in again.stderr  # -v 1 was not overridden
  assert json.loads((workdir / 'results.json').read_text())['records'] == records


def test_overrides_arrive_in_every_form(shared_datasets, tmp_path):
  env = _env(shared_datasets, tmp_path)
  _copy_example(tmp_path)
  (tmp_path / 'more.flags').write_text('--config.optimizer.learning_rate=0.01\n--config.seeds=2\n')
  c = _config_shown(
    launch_in_process(
      [
        '--config=examples/my_finding.py',
        '--quick',
        '--show_config',
        '--verbosity=1',
        '--config.train.epochs',
        '2',
        '--noconfig.dataset.download',
        '--config.sweep.model.hidden=((16,),(64,))',
        '--flagfile=more.flags',
      ],
      env,
      tmp_path,
    )
  )
  assert c['train']['epochs'] == 2
  assert c['dataset']['download'] is False and c['dataset']['train_subset'] == 1500
  assert c['sweep']['model']['hidden'] == ((16,), (64,))
  assert c['optimizer']['learning_rate'] == 0.01 and c['seeds'] == 2

  (tmp_path / 'all.flags').write_text(
    f'--config={tmp_path / "examples" / "my_finding.py"}:quick\n--config.train.epochs=3\n'
  )
  c = _config_shown(launch_in_process(['--flagfile=all.flags', '--show_config'], env, tmp_path))
  assert c['train']['epochs'] == 3 and c['seeds'] == 1


def test_builtin_experiment_and_absl_and_jax_flags(shared_datasets, tmp_path):
  env = _env(shared_datasets, tmp_path)
  c = _config_shown(
    _launch(
      ['--experiment=dropout_sweep', '--quick', '--show_config', '-v', '1', '--jax_debug_nans'], env
    )
  )
  assert c['sweep']['model']['dropout_rate'] == (0.0, 0.5, 0.9)
  helpfull = _launch(['--helpfull'], env)
  assert helpfull.returncode == 0, helpfull.stderr
  assert '--jax_debug_nans' in helpfull.stdout and '--config' in helpfull.stdout
  assert not (tmp_path / 'runs').exists()


def _replace(old, new):
  text = EXAMPLE.read_text()
  assert old in text
  return text.replace(old, new)


FINDING = 'def get_config(variant=None):\n  pass\n\n\ndef verdict(results):\n  pass\n'
BAD_INPUT = {
  'missing_file': ({}, ['--config=nowhere.py'], '--config=nowhere.py: no such file'),
  'not_python': ({'notes.txt': FINDING}, ['--config=notes.txt'], 'is not a Python file'),
  'syntax_error': ({'f.py': 'def get_config(:\n'}, ['--config=f.py'], 'is not valid Python'),
  'raises_on_import': (
    {'f.py': 'raise RuntimeError("no data")\n'},
    ['--config=f.py'],
    'raised RuntimeError: no data',
  ),
  'no_get_config': (
    {'f.py': 'def verdict(results):\n  pass\n'},
    ['--config=f.py'],
    'defines no `get_config`',
  ),
  'no_verdict': (
    {'f.py': 'def get_config(variant=None):\n  pass\n'},
    ['--config=f.py'],
    'defines no `verdict`',
  ),
  'variant_not_offered': ({}, [f'--config={EXAMPLE}:nope'], "has no variant 'nope'"),
  'quick_not_offered': ({'f.py': FINDING}, ['--config=f.py', '--quick'], "has no variant 'quick'"),
  'hook_signature': (
    {'f.py': _replace('def plot(results, workdir):', 'def plot(results):')},
    ['--config=f.py'],
    '`plot(results)` does not take the arguments',
  ),
  'misspelt_hook': (
    {'f.py': EXAMPLE.read_text() + '\n\ndef analyse(results, workdir):\n  return {}\n'},
    ['--config=f.py'],
    'one letter away from the hook `analyze`',
  ),
  'unknown_key': (
    {},
    [f'--config={EXAMPLE}', '--config.train.epoch=2'],
    'Did you mean --config.train.epochs',
  ),
  'unknown_key_in_a_flagfile': (
    {'f.flags': '--config.sed=1\n'},
    [f'--config={EXAMPLE}', '--flagfile=f.flags'],
    'Did you mean --config.seed',
  ),
  'wrong_type': ({}, [f'--config={EXAMPLE}', '--config.seeds=two'], 'expects an integer'),
  'wrong_tuple': (
    {},
    [f'--config={EXAMPLE}', '--config.sweep.model.hidden=5'],
    "takes a tuple of tuples (one tuple a point), got the single value '5'. Write it as such and "
    'quote it for the shell: --config.sweep.model.hidden="((5,),)"',
  ),
  'experiment_and_config': ({}, ['--experiment=dropout_sweep', f'--config={EXAMPLE}'], 'not both'),
}


@pytest.mark.parametrize('files,args,message', BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_is_one_paragraph_exit_2_nothing_on_disk(
  shared_datasets, tmp_path, files, args, message
):
  for name, text in files.items():
    (tmp_path / name).write_text(text)
  out = launch_in_process(args, _env(shared_datasets, tmp_path), tmp_path)
  assert out.returncode == 2, out.stderr
  lines = [line for line in out.stderr.splitlines() if line.strip()]
  assert len(lines) == 1 and lines[0].startswith('error: '), out.stderr
  assert message in lines[0]
  assert 'Traceback' not in out.stderr + out.stdout
  assert not (tmp_path / 'runs').exists()


def test_verdict_on_synthetic_records_can_fail():
  example = finding_lib.load_file(str(EXAMPLE))
  config = json.loads(example.get_config().to_json())

  def results(accuracy_of_width):
    records = [
      {
        'point': {'model.hidden': [w]},
        'diverged': False,
        'final': {'test_accuracy': accuracy_of_width[w] + 0.001 * seed},
      }
      for w in (8, 32, 128)
      for seed in range(3)
    ]
    return {'config': config, 'records': records, 'seeds': 3, 'dataset': {'standin': False}}

  assert example.verdict(results({8: 0.85, 32: 0.9, 128: 0.95})).outcome == 'REPRODUCED'
  flat = example.verdict(results({8: 0.9, 32: 0.91, 128: 0.905}))
  assert flat.outcome == 'NOT REPRODUCED'
  assert [c.passed for c in flat.claims] == [False, False]


def test_console_script_jax_findings_is_launch_cli_main(shared_datasets, tmp_path):
  pyproject = tomllib.loads((REPO / 'pyproject.toml').read_text())
  assert pyproject['project']['scripts']['jax-findings'] == 'launch:cli_main'
  installed = importlib.metadata.entry_points(group='console_scripts', name='jax-findings')
  for entry in installed:  # present once the package is reinstalled with this metadata
    assert entry.value == 'launch:cli_main'
  env = _env(shared_datasets, tmp_path)
  out = subprocess.run(
    [
      sys.executable,
      '-c',
      'import sys, launch; sys.argv = ["jax-findings", "--list"]; launch.cli_main()',
    ],
    cwd=tmp_path,
    env=env,
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert out.returncode == 0, out.stderr
  assert out.stdout.startswith('dropout_sweep') and 'xor' in out.stdout
