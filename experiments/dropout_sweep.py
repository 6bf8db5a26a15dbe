"""Dropout: a very high drop probability causes underfitting (MNIST, 1 epoch per rate).

Seeds: the CS155-style problem set (document 002), problem 3G, "Keras implementation": a CNN
trained on MNIST for one epoch at each dropout rate 0.0, 0.1, ..., 0.9, with its answer's test
accuracies (0.9714 ... 0.8479) and its claims "0.2 gives us the best non zero dropout", "changing
the dropout was the most effective form of regularization" and "a dropout that is too high ...
caused underfitting"; and the midterm's (document 001) true/false questions 1, "in dropout
regularization, a very high drop probability causes underfitting" (answered T), and 2, "removing
regularization improves the training accuracy" (answered F), both measured on the same runs.

Two readings are declared here. "Most effective regularization" needs dropout to help at all, so
the rows ask whether any non-zero rate beats rate 0.0 (in the document's own numbers none does).
"Removing regularization" is less dropout, read off the trend of the train accuracy (evaluation
mode) over all rates, as the underfitting row reads it. A difference between the best of several
rates and another counts when it exceeds the sum of their seed spreads (max - min over seeds).

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
    dict(
      min_seeds=3,
      max_spearman=-0.8,
      low_rates=(0.0, 0.1, 0.2),
      high_rate=0.9,
      claimed_best=0.2,  # 002 3G: "0.2 gives us the best non zero dropout"
    )
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


def _beyond(per_rate, a, b) -> tuple[float, float]:
  """(mean at a - mean at b, the sum of the two seed spreads): a difference and its noise.

  One of the two is the best of several rates, so its mean is biased upward: on a flat sweep of
  ten rates, three seeds each, the larger spread alone calls a false winner 9% of the time, the
  sum of the spreads 2.5% (simulated with normal noise)."""
  return (
    float(per_rate[a].mean() - per_rate[b].mean()),
    rs.spread(per_rate[a]) + rs.spread(per_rate[b]),
  )


def _best_nonzero_row(test, cfg) -> v.Claim:
  """002 3G: 0.2 is the best non-zero rate. HOLDS if it is first by more than the noise, DOES NOT
  HOLD if another rate beats it by more than the noise, INCONCLUSIVE when they are within it."""
  claim, doc = f'{cfg.claimed_best:g} gives the best non-zero dropout', '0.2 gives us the best'
  ranked = sorted((r for r in test if r > 0), key=lambda r: -test[r].mean())
  threshold = 'first among non-zero rates by more than the two seed spreads added'
  if cfg.claimed_best not in test or len(ranked) < 2:
    return v.not_applicable(
      '002 3G',
      claim,
      document=doc,
      why=f'rate {cfg.claimed_best:g} and another non-zero rate are not both in this sweep',
      primary=False,
    )
  rival = ranked[1] if ranked[0] == cfg.claimed_best else ranked[0]
  diff, noise = _beyond(test, cfg.claimed_best, rival)
  passed = True if diff > noise else False if -diff > noise else None
  return v.test(
    '002 3G',
    claim,
    document=doc,
    measured=f'best non-zero: {ranked[0]:g} ({test[ranked[0]].mean():.4f}); '
    f'{cfg.claimed_best:g} - {rival:g} = {diff:+.4f}, spreads added {noise:.4f}',
    threshold=threshold,
    passed=passed,
    value=ranked[0],
    primary=False,
  )


def _most_effective_rows(test) -> list:
  """002 3G: "dropout was the most effective regularization", in its own numbers and here."""
  claim = 'changing the dropout was the most effective regularization'
  doc = 'the most effective form of regularization'
  own_best = max(ASSIGNMENT, key=ASSIGNMENT.get)
  own_nonzero = max((r for r in ASSIGNMENT if r > 0), key=ASSIGNMENT.get)
  rows = [
    v.test(
      '002 3G',
      claim + " (the document's own numbers)",
      document=doc,
      measured=f'rate {own_best:g} is best ({ASSIGNMENT[own_best]}); best non-zero '
      f'{own_nonzero:g} ({ASSIGNMENT[own_nonzero]})',
      threshold='some non-zero rate beats rate 0.0',
      passed=own_best > 0,
      wrong_if_fails=True,
      correct=f'no dropout (rate {own_best:g}) scores best in its own table',
      primary=False,
      from_training=False,
    )
  ]
  nonzero = [r for r in test if r > 0]
  if 0.0 in test and nonzero:
    best = max(nonzero, key=lambda r: test[r].mean())
    diff, noise = _beyond(test, best, 0.0)
    rows.append(
      v.test(
        '002 3G',
        claim + ': some non-zero rate beats no dropout (test accuracy)',
        document=doc,
        measured=f'best non-zero {best:g} - rate 0 = {diff:+.4f}, spreads added {noise:.4f}',
        threshold='best non-zero mean - rate-0 mean > the two seed spreads added (a measurable '
        'benefit)',
        passed=diff > noise,
        value=diff,
        primary=False,
      )
    )
  return rows


def _removing_row(train, cfg) -> v.Claim:
  """001 T/F 2, answered F: removing regularization (less dropout) improves the train accuracy.

  Read from the trend over every rate, so that one of nine pairwise comparisons crossing the
  noise by chance does not decide it: T when train accuracy falls as the rate rises (Spearman
  <= max_spearman), F when it rises (>= -max_spearman), unsettled in between."""
  claim, doc = 'removing regularization improves the training accuracy', 'F'
  bound = cfg.max_spearman
  threshold = f'T if Spearman(rate, mean train acc) <= {bound}; F if >= {-bound}'
  rates = list(train)
  nonzero = [r for r in rates if r > 0]
  if 0.0 not in train or len(rates) < 3:
    return v.test(
      '001 T/F 2',
      claim,
      document=doc,
      measured='n/a',
      threshold=threshold,
      passed=None,
      primary=False,
    )
  rho = v.spearman(rates, [train[r].mean() for r in rates])
  answer = 'T' if rho <= bound else 'F' if rho >= -bound else 'unsettled'
  others = np.concatenate([train[r] for r in nonzero])
  return v.test(
    '001 T/F 2',
    claim,
    document=doc,
    measured=f'train acc (eval mode) at rate 0: {train[0.0].mean():.4f}, at rates '
    f'{min(nonzero):g}-{max(nonzero):g}: {others.mean():.4f}; Spearman {rho:.3f}: {answer}',
    threshold=threshold,
    passed={'T': False, 'F': True}.get(answer),
    value=rho,
    wrong_if_fails=True,
    correct='T',
    primary=False,
  )


def _is_mnist(results) -> bool:
  return results['dataset'].get('name', 'mnist') == 'mnist'


def verdict(results) -> v.Verdict:
  cfg = ml_collections.ConfigDict(results['config']['verdict'])
  records = results['records']
  test = rs.by_point(records, RATE, 'test_accuracy')
  train = rs.by_point(records, RATE, 'train_accuracy')
  rho, gap, spread = _falls(test, cfg)
  rho_tr, gap_tr, spread_tr = _falls(train, cfg)
  low = 'rates ' + ', '.join(f'{r:g}' for r in cfg.low_rates)
  claims = [
    v.test(
      '002 3G',
      'test accuracy falls as the rate rises',
      document='0.9714 at 0.0 ... 0.8479 at 0.9',
      threshold=f'Spearman(rate, mean test acc) <= {cfg.max_spearman}',
      measured='n/a (fewer than 3 rates)' if rho is None else f'{rho:.3f}',
      passed=None if rho is None else rho <= cfg.max_spearman,
      value=rho,
    ),
    v.test(
      '002 3G',
      f'too high a rate ({cfg.high_rate:g}) greatly affects learning: below {low}',
      document='a dropout that is too high greatly affected learning',
      threshold='gap > spread (max - min over seeds)',
      measured='n/a' if gap is None else f'gap {gap:.4f}, spread {spread:.4f}',
      passed=None if gap is None else gap > spread,
      value=gap,
    ),
    v.test(
      '001 T/F 1',
      'a very high drop probability causes underfitting: train accuracy falls too',
      document='T',
      threshold=f'Spearman(rate, mean train acc) <= {cfg.max_spearman} and gap > spread',
      measured='n/a'
      if rho_tr is None or gap_tr is None
      else f'{rho_tr:.3f}; gap {gap_tr:.4f}, spread {spread_tr:.4f}',
      passed=None
      if rho_tr is None or gap_tr is None
      else bool(rho_tr <= cfg.max_spearman and gap_tr > spread_tr),
      value=rho_tr,
    ),
    _best_nonzero_row(test, cfg),
    *_most_effective_rows(test),
    _removing_row(train, cfg),
  ]
  mnist = _is_mnist(results)
  table = []
  for rate in sorted(test):
    te = rs.stats(test[rate])
    table.append(
      {
        'rate': f'{rate:g}',
        "document's MNIST test acc": ASSIGNMENT.get(rate, '-') if mnist else '-',
        'test acc (mean ± std)': te.format(4),
        'spread': f'{te.spread:.4f}',
        'train acc (eval mode)': rs.stats(train[rate]).format(4) if rate in train else '-',
        'seeds': len(test[rate]),
      }
    )
  return v.of_run(
    results, claims, table, min_seeds=cfg.min_seeds, diverged=sum(r['diverged'] for r in records)
  )


def plot(results, workdir) -> list[str]:
  """Accuracy against the rate; the document's numbers drawn only when the data is MNIST."""
  records = results['records']
  test = rs.by_point(records, RATE, 'test_accuracy')
  train = rs.by_point(records, RATE, 'train_accuracy')
  rates = sorted(test)
  gap = {r: train[r] - test[r] for r in rates if r in train and len(train[r]) == len(test[r])}
  ref = {r: ASSIGNMENT[r] for r in rates if r in ASSIGNMENT}
  name = results['dataset'].get('name', 'mnist')
  path = os.path.join(workdir, 'accuracy_vs_dropout_rate.png')
  return [
    report.sweep_plot(
      path,
      rates,
      {'test': test, 'train (eval mode)': train},
      xlabel='dropout rate',
      ylabel='accuracy',
      title=f'{name}, 1 epoch per rate, {results["seeds"]} seed(s)',
      reference=("the document's MNIST test acc (002 3G)", ref) if _is_mnist(results) else None,
      right=('train - test accuracy', gap),
    )
  ]
