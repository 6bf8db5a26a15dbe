"""The transfer finding: quick end to end, the Keras VGG19 path on a fake file, the verdict."""

import json
import subprocess
import sys

import numpy as np
import pytest

from engine import checkpoints, finding, pretrained
from engine.errors import UserError
from experiments import transfer

FILE = 'experiments/transfer.py'


def _launch(workdir, *flags):
  out = subprocess.run(
    [sys.executable, 'launch.py', '--noprogress', f'--config={FILE}:quick', f'--workdir={workdir}']
    + list(flags),
    capture_output=True,
    text=True,
  )
  assert out.returncode == 0, out.stderr[-3000:]
  return json.loads((workdir / 'results.json').read_text())


def _params(workdir, run):
  return checkpoints.restore_variables(str(workdir / run / 'groups/group_000/checkpoints'))[
    'params'
  ]


def test_quick_end_to_end(shared_datasets, tmp_path):
  results = _launch(tmp_path)
  acc = transfer.accuracies(results['records'])
  assert set(acc) == {(a, s) for a in transfer.APPROACHES for s in (100, 0)}
  claims = results['verdict']['claims']
  full_vs_frozen = next(c for c in claims if c['claim'].startswith('retraining every layer'))
  assert full_vs_frozen['value'] == pytest.approx(
    float(acc[('full', 0)][0] - acc[('frozen', 0)][0])
  )
  assert results['verdict']['outcome'] == 'INCONCLUSIVE'  # one seed; the finding needs 3

  # The engine features did what the approaches say: loaded from the source, frozen where asked.
  source = _params(tmp_path, 'source')
  frozen, partial, full = (
    _params(tmp_path, f'target/{a}-all') for a in ('frozen', 'partial', 'full')
  )
  for name in ('Conv_0', 'Conv_1'):
    np.testing.assert_array_equal(frozen[name]['kernel'], source[name]['kernel'])
  np.testing.assert_array_equal(partial['Conv_0']['kernel'], source['Conv_0']['kernel'])
  assert not np.array_equal(partial['Conv_1']['kernel'], source['Conv_1']['kernel'])
  assert not np.array_equal(full['Conv_0']['kernel'], source['Conv_0']['kernel'])
  assert (tmp_path / 'transfer.png').exists()


def test_the_documents_vgg19_setup_runs_on_a_keras_file(shared_datasets, tmp_path):
  layers = pretrained.keras_vgg_layers('E', width_divisor=32)
  h5 = tmp_path / 'vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5'
  pretrained.write_keras_h5(str(h5), layers)
  work = tmp_path / 'run'
  results = _launch(
    work,
    f'--config.transfer.keras_weights={h5}',
    '--config.keras.model.width_divisor=32',
    '--config.keras.epochs=1',
    "--config.target.approaches=('partial',)",
    '--config.target.sizes=(64,)',
    '--config.target.min_steps=4',
    '--config.train.steps_per_call=1',
  )
  assert [r['point']['target.approach'] for r in results['records']] == ['partial']
  assert 'resized to 32x32x3' in results['dataset']['describe']
  assert not (work / 'source').exists()  # the file is the source
  partial = _params(work, 'target/partial-64')
  assert partial['Dense_0']['kernel'].shape == (16, 10)  # Flatten of 1x1x(512/32), Dense(10)
  for i, name in enumerate(pretrained.keras_vgg_names(transfer.get_config().keras.model)):
    same = np.array_equal(partial[f'Conv_{i}']['kernel'], layers[name]['kernel'])
    assert same == (i < 10), name  # the document's "first 10 layers" frozen


def _records(table):
  return [
    {
      'point': {'target.approach': a, 'target.size': size, 'target.n': size or 25000},
      'seed': seed,
      'diverged': False,
      'final': {'test_accuracy': acc + 0.001 * seed},
    }
    for (a, size), acc in table.items()
    for seed in range(3)
  ]


def _verdict(table):
  f = finding.load_file(FILE)
  config = json.loads(f.get_config().to_json())
  results = {
    'config': config,
    'records': _records(table),
    'seeds': 3,
    'dataset': {'standin': False},
  }
  return f.verdict(results)


def test_verdict_can_hold_and_can_fail():
  grid = lambda f, p, u: {
    ('scratch', 100): 0.70,
    ('frozen', 100): f[0],
    ('partial', 100): p[0],
    ('full', 100): u[0],
    ('scratch', 1000): 0.90,
    ('frozen', 1000): f[1],
    ('partial', 1000): p[1],
    ('full', 1000): u[1],
    ('scratch', 0): 0.98,
    ('frozen', 0): f[2],
    ('partial', 0): p[2],
    ('full', 0): u[2],
  }
  holds = _verdict(grid((0.9, 0.93, 0.95), (0.92, 0.95, 0.985), (0.91, 0.95, 0.99)))
  assert holds.outcome == 'REPRODUCED', [(c.claim, c.result) for c in holds.claims]
  fails = _verdict(grid((0.9, 0.93, 0.985), (0.9, 0.93, 0.983), (0.9, 0.93, 0.99)))
  assert fails.outcome == 'NOT REPRODUCED'
  primary = [c for c in fails.claims if c.primary]
  assert [c.result for c in primary] == ['DOES NOT HOLD', 'HOLDS', 'HOLDS']


def test_task_data_and_config_checks():
  from data.datasets import Dataset

  rng = np.random.default_rng(0)
  y = np.arange(200) % 10
  x = rng.random((200, 28, 28, 1), np.float32)
  full = Dataset(x, y, x[:50], y[:50], x[:100], y[:100], 10, 'mnist', 'test', False)
  ds = transfer.task_data(full, (5, 6, 7, 8, 9), size=23, seed=0)
  assert len(ds.train_y) == 23 and np.bincount(ds.train_y).tolist() == [5, 5, 5, 4, 4]
  assert set(ds.test_y) == set(range(5)) and len(ds.test_y) == 50 and ds.num_classes == 5
  big = transfer.task_data(full, (0, 1), image_size=32)
  assert big.train_x.shape == (40, 32, 32, 3)
  c = transfer.get_config('quick')
  c.target.approaches = ('scratch', 'finetune')
  with pytest.raises(UserError, match="'finetune'"):
    transfer.validate(c)
  assert transfer.passes_for(100, 32, 1, 300) == 100 and transfer.passes_for(27000, 32, 1, 300) == 1
