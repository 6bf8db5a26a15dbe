"""Learning-rate decay: too fast a time-based decay (0.1) freezes learning after a few updates.

Seed: the exam's problem 4 (`003 P4a`), four curves trained with Keras' legacy SGD `decay`,
where the rate of update t (counted from 0) is lr(t) = lr0 / (1 + decay * t). The question: "If
the decay is too aggressive, it may prevent any learning"; its Figure 3 plots the rate over the
updates and its Figure 4 the train and test accuracy of the four runs, "each figure labeled with
an alphabet for the decay value"; the student is to match the decays 0.1, 0.01, 0.001, 0.0001
with the letters A-D. The answer key: "A - 0.0001 B - 0.1 C - 0.001 D - 0.01".

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

Which decay is which curve is derived from the measurement, not from the key: each decay's
shape is described by features a reader can take off the document's figures, declared here
before the run: how far the rate has fallen after the first epoch and at the last update
(Figure 3), and the final test accuracy with its rank among the four (Figure 4; two decays
whose final accuracies differ by no more than their seed spread tie, and a figure cannot tell
them apart). The plots are labelled with these measured shapes. The document's Figures 3-4 are
not in its text, so what its curve A looks like is unknown here: each letter's row shows the
measured shape of the decay the key gives it and stays INCONCLUSIVE until the final test
accuracy of each lettered panel is entered (`--config.verdict.document_curves.A=0.82`, ...);
then the letters are matched to the decays by accuracy rank and a letter whose key decay is
not the measured one is DOCUMENT WRONG.
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
LETTERS = ('A', 'B', 'C', 'D')


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
      # The rate's shape (Figure 3) is exact, lr0 / (1 + decay t): "collapses" = at most half of
      # lr0 after the first epoch; "close to constant" = at least 0.7 lr0 after the last update.
      collapse_epochs=1,
      collapse_fraction=0.5,
      constant_fraction=0.7,
      # "prevents any learning": final test accuracy within `chance_sd` binomial standard errors
      # of chance, sqrt(p (1 - p) / n) with p = 1 / classes and n the test points.
      chance_sd=3.0,
      # The answer key: letter -> decay.
      document_key=dict(A=0.0001, B=0.1, C=0.001, D=0.01),
      # The final test accuracy of each lettered panel of the document's Figure 4, as read off
      # the figure; -1 = not known (the figures are not in the document's text).
      document_curves=dict(A=-1.0, B=-1.0, C=-1.0, D=-1.0),
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


def accuracy_ties(acc) -> list:
  """The decays in rising order of mean accuracy, as groups a figure cannot tell apart: a decay
  joins its lower neighbour's group when their means differ by no more than the larger of their
  two seed spreads (max - min)."""
  order = sorted(acc, key=lambda d: acc[d].mean())
  groups = []
  for d in order:
    if groups:
      prev = groups[-1][-1]
      gap = acc[d].mean() - acc[prev].mean()
      if gap <= max(rs.spread(acc[d]), rs.spread(acc[prev])):
        groups[-1].append(d)
        continue
    groups.append([d])
  return groups


class Shape:
  """A decay's measured shape: what the document's figures would show of its curves."""

  def __init__(self, results):
    cfg = ml_collections.ConfigDict(results['config']['verdict'])
    records = results['records']
    self.lr0 = results['config']['optimizer']['learning_rate']
    self.test = _per_decay(records, 'test_accuracy')
    self.train = _per_decay(records, 'train_accuracy')
    self.lr_last = _per_decay(records, 'learning_rate')
    self.lr_early = _per_decay(records, 'learning_rate', cfg.collapse_epochs)
    self.ties = accuracy_ties(self.test)
    self.rank = {}  # decay -> (1-based rank in rising test accuracy, tied decays)
    position = 0
    for group in self.ties:
      for d in group:
        self.rank[d] = (position + 1 + group.index(d), [e for e in group if e != d])
      position += len(group)

  def rank_text(self, d) -> str:
    r, tied = self.rank[d]
    tie = f', tied with {", ".join(f"{e:g}" for e in tied)}' if tied else ''
    return f'accuracy rank {r} of {len(self.rank)} from the lowest{tie}'

  def describe(self, d) -> str:
    return (
      f'decay {d:g}: rate {self.lr_early[d].mean() / self.lr0:.3f} lr0 after epoch 1, '
      f'{self.lr_last[d].mean() / self.lr0:.4f} lr0 at the end; final test acc '
      f'{_spread(self.test[d])}; {self.rank_text(d)}'
    )

  def label(self, d) -> str:
    """A plot label from the measurement alone."""
    r, tied = self.rank[d]
    tie = ' (tie)' if tied else ''
    return (
      f'decay {d:g}: rate -> {self.lr_last[d].mean() / self.lr0:.3g} lr0, '
      f'test acc {self.test[d].mean():.3f}, rank {r}/{len(self.rank)}{tie}'
    )


def _spread(x) -> str:
  s = rs.stats(x)
  return f'{s.format(4)} ({s.min:.4f}-{s.max:.4f})'


def match_letters(shape: Shape, document_curves: dict) -> dict | None:
  """{letter: decays the measurement allows for it}, matching the document's lettered panels to
  the measured decays by final test accuracy rank; None when a panel's accuracy is unknown or
  the sweep does not hold as many decays as there are letters."""
  known = {k: float(a) for k, a in document_curves.items() if a is not None and a >= 0}
  if len(known) != len(document_curves) or len(known) != len(shape.test):
    return None
  letters = sorted(known, key=lambda k: known[k])
  decays = [d for group in shape.ties for d in group]
  group_of = {d: set(g) for g in shape.ties for d in g}
  out = {}
  for k in letters:
    # letters with the same accuracy in the figure share their positions
    same = [i for i, m in enumerate(letters) if known[m] == known[k]]
    out[k] = set().union(*(group_of[decays[i]] for i in same))
  return out


def verdict(results) -> v.Verdict:
  cfg = ml_collections.ConfigDict(results['config']['verdict'])
  records = results['records']
  shape = Shape(results)
  test, train, lr0 = shape.test, shape.train, shape.lr0
  fast, slow = cfg.fast, cfg.slow
  others = [d for d in test if d != fast]
  premise = 'if the decay is too aggressive, it "may prevent any learning"; key: B - 0.1'

  def lowest(acc, split):
    claim = f'a too aggressive decay ({fast:g}) learns least: lowest final {split} accuracy'
    threshold = 'below the next-lowest decay by more than the seed spread (max - min)'
    if fast not in acc or not others:
      return v.test(
        '003 P4a',
        claim,
        document=premise,
        measured='n/a (the sweep lacks the fast decay or any other)',
        threshold=threshold,
        passed=None,
      )
    runner_up = min(others, key=lambda d: acc[d].mean())
    gap = acc[runner_up].mean() - acc[fast].mean()
    spread = max(rs.spread(acc[fast]), rs.spread(acc[runner_up]))
    return v.test(
      '003 P4a',
      claim,
      document=premise,
      measured=f'{_spread(acc[fast])} vs {_spread(acc[runner_up])} at decay {runner_up:g}: '
      f'gap {gap:.4f}, seed spread {spread:.4f}',
      threshold=threshold,
      passed=bool(gap > spread),
      value=float(gap),
    )

  claims = [lowest(test, 'test'), lowest(train, 'train')]

  classes = results['config']['model']['num_classes']
  ds = results['config']['dataset']
  n_test = round(ds['num_samples'] * (1 - ds['train_fraction']))
  chance = 1.0 / classes
  bar = chance + cfg.chance_sd * np.sqrt(chance * (1 - chance) / n_test)
  claims.append(
    v.test(
      '003 P4a',
      f'a too aggressive decay ({fast:g}) prevents any learning: test accuracy stays at chance',
      document='"it may prevent any learning"',
      measured=f'final test acc {_spread(test[fast])} (chance {chance:.3f})'
      if fast in test
      else 'n/a (the sweep lacks the fast decay)',
      threshold=f'every seed <= chance + {cfg.chance_sd:g} SE = {bar:.3f} ({n_test} test points)',
      passed=bool(test[fast].max() <= bar) if fast in test else None,
      value=float(test[fast].mean()) if fast in test else None,
      primary=False,
    )
  )

  early = float(shape.lr_early[fast].max() / lr0) if fast in shape.lr_early else None
  late = float(shape.lr_last[slow].min() / lr0) if slow in shape.lr_last else None
  epochs = len(records[0]['history']['learning_rate']) if records else 0
  claims += [
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
    v.test(
      v.OWN,
      'the accuracy curves of the decays can be told apart (Figure 4 alone settles the matching)',
      document='-',
      measured='; '.join(f'decay {d:g}: {shape.rank_text(d)}' for d in test),
      threshold="each decay's final test accuracy differs from its neighbours' by more than "
      'the seed spread',
      passed=all(len(g) == 1 for g in shape.ties) if len(test) > 1 else None,
      primary=False,
    ),
  ]

  matched = match_letters(shape, dict(cfg.document_curves))
  for letter in sorted(cfg.document_key):
    d = float(cfg.document_key[letter])
    claim = f'curve {letter} is decay {d:g}'
    threshold = (
      "the document's panels and the measured decays in the same order of final test accuracy "
      '(ties: seed spread)'
    )
    if d not in test:
      claims.append(
        v.test(
          '003 P4a',
          claim,
          document=f'{letter} - {d:g}',
          measured=f'n/a (decay {d:g} is not in the sweep)',
          threshold=threshold,
          passed=None,
          primary=False,
        )
      )
      continue
    if matched is None:
      measured = (
        f"the key's {shape.describe(d)}. The document's curve {letter} is not in its "
        'text (Figures 3-4 are not reproduced), so it cannot be compared'
      )
      passed, correct = None, ''
    else:
      allowed = sorted(matched[letter], reverse=True)
      measured = (
        f'curve {letter} (final test acc {float(cfg.document_curves[letter]):.3f} in the '
        f'document) ranks as decay {" or ".join(f"{e:g}" for e in allowed)}; {shape.describe(d)}'
      )
      passed = None if d in matched[letter] and len(allowed) > 1 else d in matched[letter]
      correct = f'{letter} - ' + ' or '.join(f'{e:g}' for e in allowed)
    claims.append(
      v.test(
        '003 P4a',
        claim,
        document=f'{letter} - {d:g}',
        measured=measured,
        threshold=threshold,
        passed=passed,
        wrong_if_fails=True,
        correct=correct,
        primary=False,
      )
    )

  key_of = {float(d): k for k, d in cfg.document_key.items()}
  table = []
  for d in sorted(test, reverse=True):
    r, tied = shape.rank[d]
    table.append(
      {
        'decay': f'{d:g}',
        'lr after epoch 1 / lr0': f'{shape.lr_early[d].mean() / lr0:.4f}',
        'final lr / lr0': f'{shape.lr_last[d].mean() / lr0:.4f}',
        'train acc (mean ± std)': rs.stats(train[d]).format(4),
        'test acc (mean ± std)': rs.stats(test[d]).format(4),
        'test acc rank (1 = lowest)': f'{r}' + (' (tie)' if tied else ''),
        'answer key says': key_of.get(d, '-'),
        'seeds': len(test[d]),
      }
    )
  return v.of_run(
    results, claims, table, min_seeds=cfg.min_seeds, diverged=sum(r['diverged'] for r in records)
  )


def matching(results) -> str:
  """Which decay produced which shape, from the measurement."""
  shape = Shape(results)
  return '; '.join(shape.label(d) for d in sorted(shape.test, reverse=True))


def plot(results, workdir) -> list[str]:
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

  by_decay = rs.group_by(results['records'], DECAY)
  shape = Shape(results)
  cfg = results['config']
  lr0 = cfg['optimizer']['learning_rate']
  decays = sorted(by_decay, reverse=True)
  epochs = len(by_decay[decays[0]][0]['history']['learning_rate'])
  print(f'{NAME}: measured shapes: {matching(results)}')

  fig, ax = plt.subplots(figsize=(6.5, 4.2))
  for d in decays:
    first = by_decay[d][0]['history']
    t = np.arange(int(first['updates'][-1]) + 1)
    (line,) = ax.plot(t, lr0 / (1.0 + d * t), lw=1, label=shape.label(d))
    ax.plot(first['updates'], first['learning_rate'], '.', ms=3, color=line.get_color())
  ax.set(
    xlabel='update',
    ylabel='learning rate',
    title=f'lr0 / (1 + decay t), lr0 = {lr0:g}; line: the formula, dots: the rate read from '
    'the optimizer state at each epoch end',
  )
  ax.title.set_fontsize(8)
  ax.grid(alpha=0.3)
  ax.legend(fontsize=7)
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
    ax.set(xlabel='epoch', ylabel='accuracy')
    ax.set_title(shape.label(d), fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc='lower right')
  for ax in list(axes.flat)[len(decays) :]:
    ax.axis('off')
  fig.suptitle(
    f'{results["dataset"]["name"]}, SGD lr0 {lr0:g}, mean of {results["seeds"]} seed(s), '
    'band = min-max',
    fontsize=9,
  )
  paths.append(report.save_figure(fig, os.path.join(workdir, 'accuracy_vs_epoch.png')))
  return paths
