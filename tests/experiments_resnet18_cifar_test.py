"""Tests for experiments/resnet18_cifar.py: the recipe's network, its verdict, a run end to end."""

import json

import ml_collections
import numpy as np
import pytest

from data import cifar10
from engine import run
from engine import verdict as v
from experiments import resnet18_cifar as f


def test_the_recipe_network_is_kuangliu_resnet18():
  c = f.get_config()
  assert f._params(c.model) == 11_173_962
  assert (c.model.stem, c.optimizer.l2_weight_decay, c.train.batch_size) == ('cifar', 5e-4, 128)
  # the code's CosineAnnealingLR(T_max=200), in the 5-epoch run too
  assert c.optimizer.decay_steps == f.get_config('reference').optimizer.decay_steps == 200 * 390
  assert (c.train.epochs, f.get_config('reference').train.epochs) == (5, 200)


def test_channel_statistics_match_numpy():
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (12, 32, 32, 3), dtype=np.uint8)
  stats = f.channel_statistics(images)
  x = images / 255.0
  np.testing.assert_allclose(stats['mean'], x.mean((0, 1, 2)))
  np.testing.assert_allclose(stats['std'], x.std((0, 1, 2)))
  np.testing.assert_allclose(stats['variance'], x.var((0, 1, 2)))
  np.testing.assert_allclose(stats['mean_image_std'], x.std((1, 2)).mean(0))
  np.testing.assert_allclose(stats['std_image_mean'], x.mean((1, 2)).std(0))


def _results(best, epochs, stats):
  config = json.loads(f.get_config('reference').to_json())
  config['train']['epochs'] = epochs
  history = np.linspace(0.3, best, epochs).tolist()
  records = [
    {
      'seed': 0,
      'diverged': False,
      'group_seconds': 10.0,
      'history': {
        'test_accuracy': history,
        'train_running_accuracy': history,
        'train_running_loss': np.linspace(2.0, 0.1, epochs).tolist(),
      },
      'final': {'test_accuracy': history[-1], 'train_running_accuracy': history[-1]},
    }
  ]
  results = {
    'config': config,
    'seeds': 1,
    'records': records,
    'dataset': {'name': 'cifar10', 'standin': False},
  }
  results['analysis'] = {
    **f.analyze({**results, 'dataset': {'name': 'x'}}, ''),
    'statistics': stats,
  }
  return results


def _stats(std_triple_is):
  stats = {k: [0.25, 0.24, 0.26] for k in ('std', 'mean_image_std', 'std_image_mean')}
  stats['mean'] = list(f.DOC_MEAN)
  stats['variance'] = [0.06, 0.06, 0.07]
  stats[std_triple_is] = list(f.DOC_STD)
  return stats


def test_verdict_reproduced_only_when_every_primary_claim_holds():
  good = f.verdict(_results(0.95, 200, _stats('variance')))
  assert good.outcome == v.REPRODUCED, good.claims
  low = f.verdict(_results(0.90, 200, _stats('variance')))
  assert low.outcome == v.NOT_REPRODUCED
  [ref] = [c for c in low.claims if '(reference)' in c.claim]
  assert ref.result == v.DOES_NOT_HOLD and ref.value == pytest.approx(0.90)


def test_the_std_called_variance_is_document_wrong():
  out = f.verdict(_results(0.95, 200, _stats('mean_image_std')))
  assert out.outcome == v.NOT_REPRODUCED
  var, std = [c for c in out.claims if 'variance' in c.claim or 'as the std' in c.claim]
  assert var.result == v.DOCUMENT_WRONG and '(0.2500, 0.2400, 0.2600)' in var.correct
  assert std.result == v.DOCUMENT_WRONG and 'mean of per-image std' in std.measured


def test_five_epochs_leave_the_reference_not_applicable():
  out = f.verdict(_results(0.80, 5, _stats('variance')))
  results = {c.claim: c.result for c in out.claims}
  assert results['ResNet-18 reaches 93.02% test accuracy on CIFAR-10 (reference)'] == (
    v.NOT_APPLICABLE
  )
  assert results['5 epochs of the recipe train the network (part 2)'] == v.HOLDS


def test_quick_runs_on_generated_cifar_files_and_is_inconclusive(tmp_path, monkeypatch):
  """The quick variant, shrunk further (1 epoch, one stage of one block), through engine.run."""
  monkeypatch.setenv('JAX_FINDINGS_CACHE', str(tmp_path / 'cache'))
  c = f.get_config('quick')
  c.dataset.update(dict(num_samples=200, train_fraction=0.8))
  c.model.stage_sizes = (1,)
  c.train.update(dict(epochs=1, batch_size=32, eval_train_size=64, eval_batch_size=100))
  results = run.run(f, c, str(tmp_path / 'run'), progress=False)
  assert results['dataset']['name'] == cifar10.GENERATED
  assert 'written as CIFAR-10 python batches' in results['dataset']['source']
  verdict = ml_collections.ConfigDict(results['verdict'])
  assert verdict.outcome == v.INCONCLUSIVE
  assert any('not CIFAR-10' in r for r in verdict.reasons)
  [record] = results['records']
  assert len(record['history']['test_accuracy']) == 1
  assert (tmp_path / 'run' / 'report.md').exists()
  assert (tmp_path / 'run' / 'accuracy_by_epoch.png').exists()


def test_validate_refuses_a_bad_augment_block():
  from engine.errors import UserError

  c = f.get_config()
  f.validate(c)
  c.augment.std = (0.2, 0.2)
  with pytest.raises(UserError, match='augment'):
    f.validate(c)
