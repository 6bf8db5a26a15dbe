"""Dropout: a very high drop probability causes underfitting (MNIST, 1 epoch per rate).

Seed: the CS155-style problem set, "Keras implementation" (a CNN trained on MNIST for one epoch
at each dropout rate 0.0, 0.1, ..., 0.9), and the midterm's true/false question "a very high
drop probability causes underfitting".

Architecture (206,922 parameters; input 28x28x1, SAME padding, Glorot-uniform init, Adam 1e-3,
batch 128; the sweep point's dropout rate after each of the two conv blocks):

    conv 3x3, 16 -> ReLU -> max-pool 2x2 -> dropout        28x28x16 -> 14x14x16
    conv 3x3, 32 -> ReLU -> max-pool 2x2 -> dropout        14x14x32 -> 7x7x32
    flatten -> dense 128 -> ReLU                           1568 -> 128
    dense 10 (logits)

Where the dropout sits decides how hard a high rate bites in one epoch: with a third dropout
after the dense layer, rate 0.9 stays at chance (test accuracy 0.12), far below the
assignment's 0.85; after the conv blocks only, it lands near it (0.84 for one seed).

Every seed uses the same initial weights and data order at every rate (common random numbers),
so the comparison between rates is not blurred by init noise. Train accuracy is measured in
evaluation mode (dropout off) on 10,000 training images, so it shows fitting, not the noise
dropout injects.
"""

import os

import ml_collections
import numpy as np

from engine import base_config, report
from engine import records as rs
from engine import verdict as v

NAME = 'dropout_sweep'
VARIANTS = ('quick',)
ASSIGNMENT = {
  0.0: 0.9714,
  0.1: 0.9694,
  0.2: 0.97,
  0.3: 0.9688,
  0.4: 0.9578,
  0.5: 0.9524,
  0.6: 0.9474,
  0.7: 0.9279,
  0.8: 0.8897,
  0.9: 0.8479,
}
RATE = 'model.dropout_rate'


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
  c = base_config.get_config()
  c.model = ml_collections.ConfigDict(
    dict(
      name='cnn',
      conv_features=(16, 32),
      kernel_size=3,
      padding='SAME',
      dense=(128,),
      num_classes=10,
      activation='relu',
      kernel_init='glorot_uniform',
      init_scale=1.0,
      batch_norm=False,
      dropout_after_conv=True,
      dropout_after_dense=False,
      dropout_rate=0.0,
    )
  )
  c.optimizer = ml_collections.ConfigDict(dict(name='adam', learning_rate=1e-3))
  c.sweep.model = ml_collections.ConfigDict(dict(dropout_rate=tuple(sorted(ASSIGNMENT))))
  c.verdict = ml_collections.ConfigDict(
    dict(min_seeds=3, max_spearman=-0.8, low_rates=(0.0, 0.1, 0.2), high_rate=0.9)
  )
  if variant == 'quick':
    c.dataset.update(dict(validation_size=500, train_subset=3000, test_subset=1000))
    c.train.update(dict(eval_train_size=1000, eval_batch_size=500))
    c.sweep.model.dropout_rate = (0.0, 0.5, 0.9)
    c.seeds = 1
  return c


def _falls(per_rate, cfg):
  """Rank correlation of the mean with the rate, and the gap from the low rates to the high one."""
  rates = list(per_rate)
  means = [per_rate[r].mean() for r in rates]
  rho = v.spearman(rates, means) if len(rates) >= 3 else None
  low = [r for r in cfg.low_rates if r in per_rate]
  high = cfg.high_rate
  if not low or high not in per_rate:
    return rho, None, None
  pooled_low = np.concatenate([per_rate[r] for r in low])
  gap = float(pooled_low.mean() - per_rate[high].mean())
  spread = max(rs.spread(per_rate[r]) for r in low + [high])
  return rho, gap, spread


def verdict(results) -> v.Verdict:
  cfg = ml_collections.ConfigDict(results['config']['verdict'])
  records = results['records']
  test = rs.by_point(records, RATE, 'test_accuracy')
  train = rs.by_point(records, RATE, 'train_accuracy')
  rho, gap, spread = _falls(test, cfg)
  rho_tr, gap_tr, spread_tr = _falls(train, cfg)
  low = 'rates ' + ', '.join(f'{r:g}' for r in cfg.low_rates)
  checks = [
    v.Check(
      claim='test accuracy falls as the rate rises',
      threshold=f'Spearman(rate, mean test acc) <= {cfg.max_spearman}',
      measured='n/a (fewer than 3 rates)' if rho is None else f'{rho:.3f}',
      passed=None if rho is None else rho <= cfg.max_spearman,
      value=rho,
    ),
    v.Check(
      claim=f'accuracy at {cfg.high_rate:g} is below {low} by more than the seed spread',
      threshold='gap > spread (max - min over seeds)',
      measured='n/a' if gap is None else f'gap {gap:.4f}, spread {spread:.4f}',
      passed=None if gap is None else gap > spread,
      value=gap,
    ),
    v.Check(
      claim='train accuracy falls too (underfitting, not overfitting)',
      threshold=f'Spearman(rate, mean train acc) <= {cfg.max_spearman} and gap > spread',
      measured='n/a'
      if rho_tr is None or gap_tr is None
      else f'{rho_tr:.3f}; gap {gap_tr:.4f}, spread {spread_tr:.4f}',
      passed=None
      if rho_tr is None or gap_tr is None
      else bool(rho_tr <= cfg.max_spearman and gap_tr > spread_tr),
      value=rho_tr,
    ),
  ]
  table = []
  for rate in sorted(test):
    te = rs.stats(test[rate])
    table.append(
      {
        'rate': f'{rate:g}',
        'assignment test acc': ASSIGNMENT.get(rate, '-'),
        'test acc (mean ± std)': te.format(4),
        'spread': f'{te.spread:.4f}',
        'train acc (eval mode)': rs.stats(train[rate]).format(4) if rate in train else '-',
        'seeds': len(test[rate]),
      }
    )
  return v.of_run(
    results, checks, table, min_seeds=cfg.min_seeds, diverged=sum(r['diverged'] for r in records)
  )


def plot(results, workdir) -> list[str]:
  records = results['records']
  test = rs.by_point(records, RATE, 'test_accuracy')
  train = rs.by_point(records, RATE, 'train_accuracy')
  rates = sorted(test)
  gap = {r: train[r] - test[r] for r in rates if r in train and len(train[r]) == len(test[r])}
  ref = {r: ASSIGNMENT[r] for r in rates if r in ASSIGNMENT}
  path = os.path.join(workdir, 'accuracy_vs_dropout_rate.png')
  return [
    report.sweep_plot(
      path,
      rates,
      {'test': test, 'train (eval mode)': train},
      xlabel='dropout rate',
      ylabel='accuracy',
      title=f'MNIST, 1 epoch per rate, {results["seeds"]} seed(s)',
      reference=('assignment (test)', ref),
      right=('train - test accuracy', gap),
    )
  ]
