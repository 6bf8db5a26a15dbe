"""Learning-rate decay: too fast a time-based decay (0.1) freezes learning after a few updates.

Seed: the exam's problem 4, four curves trained with Keras' legacy SGD `decay`, where the rate of
update t (counted from 0) is lr(t) = lr0 / (1 + decay * t), and the matching question
"A-0.0001, B-0.1, C-0.001, D-0.01".

Setting (the classic one for this figure): three gaussian blobs in 2-D (scikit-learn
make_blobs, std 2, seed 2; 1,000 points, the first 500 for training and the last 500 for
testing, plus 200 fresh validation points, data/blobs.py); an MLP 2 -> 50 ReLU -> 3 with
He-uniform weights and zero biases; plain SGD (no momentum) from lr0 = 0.01, batch 32 (15
updates per epoch, the last partial batch dropped), 200 epochs = 3,000 updates. The four decays
are one sweep axis of numbers, so they train together, with every seed, in ONE vmapped program:
each model's lr0 and decay sit in its optimizer state and its schedule is computed from them at
every update (engine/optimizers.py, engine/schedules.py). Every seed starts the four decays from
the same weights and data order (common random numbers).

The learning rate each model will use next is read from its optimizer state at every epoch end
(a probe), so the plotted and checked rates are what the optimizer applied, not a formula.
"""

import os

import ml_collections
import numpy as np

from engine import base_config, optimizers, report
from engine import records as rs
from engine import verdict as v
from engine.errors import UserError

NAME = 'lr_decay'
VARIANTS = ('quick',)
DECAY = 'optimizer.decay'
EXAM_CURVE = {0.0001: 'A', 0.1: 'B', 0.001: 'C', 0.01: 'D'}  # the exam's answer key


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
  c = base_config.get_config()
  c.dataset.update(
    dict(name='blobs', validation_size=200, split_seed=2, download=False, allow_standin=False)
  )
  c.dataset.num_samples = 1000
  c.dataset.train_fraction = 0.5
  c.model = ml_collections.ConfigDict(
    dict(
      name='mlp',
      hidden=(50,),
      num_classes=3,
      activation='relu',
      kernel_init='he_uniform',
      init_scale=1.0,
      batch_norm=False,
      dropout_rate=0.0,
    )
  )
  c.optimizer = ml_collections.ConfigDict(
    dict(name='sgd', learning_rate=0.01, schedule='time_based_decay', decay=0.0)
  )
  c.train.update(dict(epochs=200, batch_size=32, eval_batch_size=500, eval_train_size=0))
  c.sweep.optimizer = ml_collections.ConfigDict(dict(decay=(0.1, 0.01, 0.001, 0.0001)))
  c.sweep_max_models = 0  # the four decays x seeds in one program
  c.verdict = ml_collections.ConfigDict(
    dict(
      min_seeds=3,
      fast=0.1,
      slow=0.0001,
      collapse_epochs=1,
      collapse_fraction=0.5,
      constant_fraction=0.7,
    )
  )
  if variant == 'quick':
    c.train.epochs = 20
    c.sweep.optimizer.decay = (0.1, 0.0001)
    c.seeds = 1
  return c


def validate(config):
  if config.optimizer.schedule != 'time_based_decay':
    raise UserError(
      f'lr_decay studies the time-based decay; --config.optimizer.schedule='
      f'{config.optimizer.schedule!r} would measure another schedule. Leave it at '
      "'time_based_decay' and sweep --config.sweep.optimizer.decay instead."
    )


def probe(model, state, train_images, train_labels):  # pylint: disable=unused-argument
  """The rate of the next update, from the model's own lr0, decay and update count."""
  return {
    'learning_rate': optimizers.learning_rate({'schedule': 'time_based_decay'}, state.opt_state),
    'updates': state.opt_state.count.astype(np.float32),
  }


def _per_decay(records, metric, epoch=None):
  """{decay: per-seed values of `metric` at `epoch` (1-based; None = last)}, diverged left out."""
  return rs.by_point(
    records, DECAY, lambda r: r['history'][metric][-1 if epoch is None else epoch - 1]
  )


def _curve(decay):
  return f'exam curve {EXAM_CURVE[decay]}' if decay in EXAM_CURVE else 'not in the exam'


def verdict(results) -> v.Verdict:
  cfg = ml_collections.ConfigDict(results['config']['verdict'])
  lr0 = results['config']['optimizer']['learning_rate']
  records = results['records']
  test, train = _per_decay(records, 'test_accuracy'), _per_decay(records, 'train_accuracy')
  lr_last = _per_decay(records, 'learning_rate')
  lr_early = _per_decay(records, 'learning_rate', cfg.collapse_epochs)
  fast, slow = cfg.fast, cfg.slow
  others = [d for d in test if d != fast]

  def lowest(acc):
    if fast not in acc or not others:
      return None, 'n/a (the sweep lacks the fast decay or any other)', None
    runner_up = min(others, key=lambda d: acc[d].mean())
    gap = acc[runner_up].mean() - acc[fast].mean()
    spread = max(rs.spread(acc[fast]), rs.spread(acc[runner_up]))
    return (
      bool(gap > spread),
      (
        f'{acc[fast].mean():.4f} vs {acc[runner_up].mean():.4f} at decay '
        f'{runner_up:g}: gap {gap:.4f}, seed spread {spread:.4f}'
      ),
      float(gap),
    )

  test_low, train_low = lowest(test), lowest(train)
  early = float(lr_early[fast].max() / lr0) if fast in lr_early else None
  late = float(lr_last[slow].min() / lr0) if slow in lr_last else None
  epochs = len(records[0]['history']['learning_rate']) if records else 0
  checks = [
    v.Check(
      claim=f'decay {fast:g} learns least: lowest final test accuracy',
      threshold='below the next-lowest decay by more than the seed spread',
      measured=test_low[1],
      passed=test_low[0],
      value=test_low[2],
    ),
    v.Check(
      claim=f'decay {fast:g} learns least: lowest final train accuracy',
      threshold='below the next-lowest decay by more than the seed spread',
      measured=train_low[1],
      passed=train_low[0],
      value=train_low[2],
    ),
    v.Check(
      claim=f'decay {fast:g}: the rate collapses within a few updates',
      threshold=f'lr after epoch {cfg.collapse_epochs} <= {cfg.collapse_fraction:g} lr0',
      measured='n/a' if early is None else f'{early:.4f} lr0',
      passed=None if early is None else bool(early <= cfg.collapse_fraction),
      value=early,
    ),
    v.Check(
      claim=f'decay {slow:g} is close to a constant rate',
      threshold=f'lr after the last update >= {cfg.constant_fraction:g} lr0',
      measured='n/a' if late is None else f'{late:.4f} lr0 after {epochs} epochs',
      passed=None if late is None else bool(late >= cfg.constant_fraction),
      value=late,
    ),
  ]
  table = []
  for d in sorted(test, reverse=True):
    table.append(
      {
        'decay': f'{d:g}',
        'exam curve': EXAM_CURVE.get(d, '-'),
        'lr after epoch 1 / lr0': f'{lr_early[d].mean() / lr0:.4f}',
        'final lr / lr0': f'{lr_last[d].mean() / lr0:.4f}',
        'train acc (mean ± std)': rs.stats(train[d]).format(4),
        'test acc (mean ± std)': rs.stats(test[d]).format(4),
        'seeds': len(test[d]),
      }
    )
  return v.of_run(
    results, checks, table, min_seeds=cfg.min_seeds, diverged=sum(r['diverged'] for r in records)
  )


def matching(results) -> str:
  """Which curve is which, for the exam's matching question."""
  decays = sorted({r['point'][DECAY] for r in results['records']}, reverse=True)
  return '; '.join(f'decay {d:g} = {_curve(d)}' for d in decays)


def plot(results, workdir) -> list[str]:
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

  by_decay = rs.group_by(results['records'], DECAY)
  cfg = results['config']
  lr0 = cfg['optimizer']['learning_rate']
  decays = sorted(by_decay, reverse=True)
  epochs = len(by_decay[decays[0]][0]['history']['learning_rate'])
  print(f'{NAME}: {matching(results)}')

  fig, ax = plt.subplots(figsize=(6.5, 4.2))
  for d in decays:
    first = by_decay[d][0]['history']
    t = np.arange(int(first['updates'][-1]) + 1)
    (line,) = ax.plot(t, lr0 / (1.0 + d * t), lw=1, label=f'decay {d:g} ({_curve(d)})')
    ax.plot(first['updates'], first['learning_rate'], '.', ms=3, color=line.get_color())
  ax.set(
    xlabel='update',
    ylabel='learning rate',
    title=f'lr0 / (1 + decay t), lr0 = {lr0:g}; line: the formula, dots: the rate read from '
    'the optimizer state at each epoch end',
  )
  ax.title.set_fontsize(8)
  ax.grid(alpha=0.3)
  ax.legend(fontsize=8)
  paths = [report.save_figure(fig, os.path.join(workdir, 'learning_rate_vs_update.png'))]

  cols = min(2, len(decays))
  rows = -(-len(decays) // cols)
  fig, axes = plt.subplots(
    rows,
    cols,
    figsize=(5.5 * cols, 3.6 * rows),
    squeeze=False,
    sharey=True,
    constrained_layout=True,
  )
  for ax, d in zip(axes.flat, decays):
    x = np.arange(1, epochs + 1)
    for split in ('train', 'test'):
      curves = np.array([r['history'][f'{split}_accuracy'] for r in by_decay[d]], np.float64)
      (line,) = ax.plot(x, curves.mean(0), label=split)
      ax.fill_between(x, curves.min(0), curves.max(0), alpha=0.25, color=line.get_color())
    ax.set(title=f'decay {d:g} ({_curve(d)})', xlabel='epoch', ylabel='accuracy')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc='lower right')
  for ax in list(axes.flat)[len(decays) :]:
    ax.axis('off')
  fig.suptitle(
    f'three blobs, SGD lr0 {lr0:g}, mean of {results["seeds"]} seed(s), band = min-max', fontsize=9
  )
  paths.append(report.save_figure(fig, os.path.join(workdir, 'accuracy_vs_epoch.png')))
  return paths
