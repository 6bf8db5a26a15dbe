"""The LeNet finding: confusion arithmetic, the verdict, and a tiny real run end to end."""

import numpy as np
import pytest
from PIL import Image

from engine import run
from experiments import lenet_mnist


def test_confusion_and_most_confused_pairs():
  labels = np.array([7, 7, 7, 9, 9, 2, 1])
  preds = np.array([2, 2, 7, 7, 9, 2, 7])
  m = lenet_mnist.confusion(labels, preds)
  assert m.sum() == 7 and m[7, 2] == 2 and m[9, 7] == 1 and np.trace(m) == 3
  assert lenet_mnist.most_confused(m, 2) == [(7, 2, 2), (1, 7, 1)]


def _results(accs, seeds=2, standin=False):
  records = [
    {'point': {'model.name': name}, 'seed': s, 'diverged': False, 'final': {'test_accuracy': a}}
    for name, per_seed in accs.items()
    for s, a in zip(range(seeds), per_seed)
  ]
  return {
    'config': lenet_mnist.get_config().to_dict(),
    'records': records,
    'seeds': seeds,
    'dataset': {'standin': standin},
    'analysis': {'pairs': {'caffe_lenet': [(7, 2, 9), (9, 7, 8)]}},
  }


def test_verdict_needs_every_seed_of_both_models_above_the_assignment():
  good = lenet_mnist.verdict(_results({'caffe_lenet': [0.985, 0.987], 'lenet5': [0.981, 0.983]}))
  assert good.outcome == 'REPRODUCED'
  assert good.table[0]['most confused (true -> read as: count)'] == '7 -> 2: 9, 9 -> 7: 8'
  bad = lenet_mnist.verdict(_results({'caffe_lenet': [0.985, 0.987], 'lenet5': [0.981, 0.975]}))
  assert bad.outcome == 'NOT REPRODUCED' and bad.claims[1].value == pytest.approx(0.975)
  one = lenet_mnist.verdict(_results({'caffe_lenet': [0.99], 'lenet5': [0.99]}, seeds=1))
  assert one.outcome == 'INCONCLUSIVE'


def test_tiny_run_restores_its_checkpoints_and_classifies_an_image(
  shared_datasets, tmp_path, monkeypatch
):
  monkeypatch.setenv('JAX_FINDINGS_DATA', shared_datasets)
  config = lenet_mnist.get_config('quick')
  config.dataset.update(
    dict(
      validation_size=256, train_subset=1024, test_subset=512, download=False, allow_standin=False
    )
  )
  config.train.update(dict(eval_train_size=256, eval_batch_size=256))
  config.analysis.eval_batch_size = 256
  workdir = tmp_path / 'run'
  results = run.run(lenet_mnist, config, str(workdir), progress=False, command='test')

  analysis = results['analysis']
  for r in results['records']:  # the restored model gives the accuracy the loop measured
    name = r['point']['model.name']
    assert analysis['checkpoint_accuracy'][name] == [
      pytest.approx(r['final']['test_accuracy'], abs=1e-6)
    ]
    assert np.asarray(analysis['confusion'][name]).sum() == 512
  maps = analysis['feature_maps']['layers']
  assert np.asarray(maps['conv1']).shape == (24, 24, 20)
  assert np.asarray(maps['pool1']).shape == (12, 12, 20)
  for name in (
    'confusion_caffe_lenet.png',
    'confusion_lenet5.csv',
    'feature_maps_conv1.png',
    'feature_maps_pool1.png',
    'report.md',
  ):
    assert (workdir / name).is_file(), name

  image = tmp_path / 'digit.png'
  ink = np.zeros((120, 90), np.uint8)
  ink[10:110, 40:52] = 255  # a tall stroke, light on dark
  Image.fromarray(ink).save(image)
  (tmp_path / 'empty.png').write_bytes(b'')
  answers = dict(lenet_mnist.classify([str(image), str(tmp_path / 'empty.png')], str(workdir)))
  (d1, p1), (d2, p2) = answers[str(image)]
  assert d1 != d2 and 1.0 >= p1 >= p2 >= 0.0
  assert 'not a readable image' in answers[str(tmp_path / 'empty.png')]
