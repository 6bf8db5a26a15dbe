"""Damaged checkpoints: each kind is reported in one line and the run falls back, never wrong."""

import os
import pathlib

import jax.numpy as jnp
import numpy as np
import pytest
from conftest import tiny_config, train_group

from engine import checkpoints, loop, sweep


def _tree(scale=1.0):
  return {
    'states': {'w': jnp.arange(4000.0).reshape(40, 100) * scale},
    'history': {'loss': np.full((3, 2), 0.5 * scale, np.float32)},
    'position': np.array([1, 2], np.int64),
  }


def _saved(tmp_path):
  """Checkpoints 5 (scale 1) and 9 (scale 2); returns their directory."""
  directory = tmp_path / 'ckpt'
  mngr = checkpoints.manager(str(directory))
  checkpoints.save(mngr, 5, _tree(1.0))
  checkpoints.save(mngr, 9, _tree(2.0))
  mngr.close()
  return directory


def _largest_file(step_dir: pathlib.Path) -> pathlib.Path:
  return max((p for p in step_dir.rglob('*') if p.is_file()), key=lambda p: p.stat().st_size)


def _truncate(path: pathlib.Path):
  data = path.read_bytes()
  path.write_bytes(data[: len(data) // 2])


def _garble(path: pathlib.Path):
  data = bytearray(path.read_bytes())
  for i in range(len(data) // 2, len(data) // 2 + 8):
    data[i] ^= 0x5A
  path.write_bytes(bytes(data))


DAMAGE = {
  'truncated data file': lambda d: _truncate(_largest_file(d / '9')),
  'garbled bytes': lambda d: _garble(_largest_file(d / '9')),
  'empty _METADATA': lambda d: (d / '9' / 'default' / '_METADATA').write_text(''),
  'garbled checkpoint metadata': lambda d: (d / '9' / '_CHECKPOINT_METADATA').write_text('{"x'),
}


@pytest.mark.parametrize('damage', sorted(DAMAGE))
def test_a_damaged_checkpoint_falls_back_to_the_one_before(tmp_path, damage):
  directory = _saved(tmp_path)
  DAMAGE[damage](directory)
  logs = []
  mngr = checkpoints.manager(str(directory))
  step, tree = checkpoints.restore_latest(mngr, _tree(0.0), log=logs.append)
  mngr.close()
  assert step == 5
  np.testing.assert_array_equal(tree['states']['w'], _tree(1.0)['states']['w'])
  [line] = logs
  assert 'checkpoint 9' in line and 'unusable' in line and '\n' not in line
  assert not (directory / '9').exists()  # deleted, so later saves are not shadowed by it


def test_the_checksum_catches_bytes_orbax_reads_without_complaint(tmp_path):
  """Rewriting a checkpoint with other numbers, its metadata intact: only the checksum knows."""
  directory = _saved(tmp_path)
  other = tmp_path / 'other'
  mngr = checkpoints.manager(str(other))
  checkpoints.save(mngr, 9, _tree(3.0))
  mngr.close()
  data = directory / '9' / 'default'
  for name in ('d', 'ocdbt.process_0', 'manifest.ocdbt'):
    target, source = data / name, other / '9' / 'default' / name
    if source.is_dir():
      for f in source.rglob('*'):
        if f.is_file():
          (target / f.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
          (target / f.relative_to(source)).write_bytes(f.read_bytes())
    elif source.exists():
      target.write_bytes(source.read_bytes())
  for f in (data / 'ocdbt.process_0' / 'd').iterdir():  # only the new data files remain
    if not (other / '9' / 'default' / 'ocdbt.process_0' / 'd' / f.name).exists():
      f.unlink()
  logs = []
  mngr = checkpoints.manager(str(directory))
  step, _ = checkpoints.restore_latest(mngr, _tree(0.0), log=logs.append)
  mngr.close()
  assert step == 5, logs
  assert any('do not match the checksum' in m for m in logs), logs


def test_a_leftover_partial_save_is_removed(tmp_path):
  directory = _saved(tmp_path)
  partial = directory / '12.orbax-checkpoint-tmp-1234567890'
  (partial / 'default').mkdir(parents=True)
  (partial / 'default' / '_METADATA').write_text('{')
  logs = []
  mngr = checkpoints.manager(str(directory))
  step, _ = checkpoints.restore_latest(mngr, _tree(0.0), log=logs.append)
  mngr.close()
  assert step == 9 and logs == []
  assert not partial.exists()


def test_with_every_checkpoint_damaged_the_group_starts_from_scratch(tmp_path):
  directory = _saved(tmp_path)
  for step in ('5', '9'):
    (directory / step / 'default' / '_METADATA').write_text('')
  logs = []
  mngr = checkpoints.manager(str(directory))
  step, tree = checkpoints.restore_latest(mngr, _tree(0.0), log=logs.append)
  mngr.close()
  assert step is None and tree['states']['w'].sum() == 0
  assert len(logs) == 3 and 'restarts from scratch' in logs[-1]


def test_a_run_resumed_past_a_garbled_checkpoint_equals_an_uninterrupted_one(mnist_small, tmp_path):
  c = tiny_config()
  dev = loop.put_on_device(mnist_small, c.train.eval_train_size, c.train.eval_batch_size)
  [group] = sweep.groups(c)
  straight = train_group(group, c, dev, str(tmp_path / 'a'), progress=False)
  ckpts = tmp_path / 'a' / 'checkpoints'
  steps = sorted(int(p.name) for p in ckpts.iterdir() if p.name.isdigit())
  assert steps == [17, 34]  # every epoch end is saved (16 steps per epoch), without a timer
  _garble(_largest_file(ckpts / '34'))
  logs = []
  resumed = train_group(group, c, dev, str(tmp_path / 'a'), progress=False, log=logs.append)
  assert any('checkpoint 34' in m and 'unusable' in m for m in logs), logs
  assert any('resuming from checkpoint at epoch 1, step 0' in m for m in logs), logs
  for a, b in zip(straight, resumed):
    assert a['history'] == b['history']
  assert os.path.isdir(ckpts / '34')  # saved again, from the retrained epoch


def test_a_failure_while_writing_the_report_leaves_status_failed(tmp_path):
  import json
  import types

  import ml_collections

  from engine import finding, run
  from engine import verdict as v

  module = types.ModuleType('broken_report')
  module.__doc__ = 'A finding whose plot fails.\n\nIt measures nothing.'
  module.get_config = lambda variant=None: ml_collections.ConfigDict(dict(n=1))
  module.measure = lambda config, workdir: {
    'seeds': 1,
    'records': [],
    'train_seconds': 0.0,
    'dataset': {'name': 'none', 'source': '-', 'standin': False, 'describe': '-'},
  }
  module.verdict = lambda results: v.Verdict(v.INCONCLUSIVE, [], [], ['nothing measured'])

  def plot(results, workdir):
    raise OSError(28, 'No space left on device')

  module.plot = plot
  f = finding.from_module(module)
  with pytest.raises(OSError):
    run.run(f, f.config(), str(tmp_path / 'w'), progress=False)
  status = json.loads((tmp_path / 'w' / 'status.json').read_text())
  assert status['state'] == 'failed' and 'No space left' in status['error']
