"""Depth vs width: a fixed budget of hidden units, spent on 1 to 4 layers (MNIST MLPs).

Seed: the CS155-style problem set, "Depth vs Width on the MNIST Dataset" (parts D-F), and the
midterm's true/false question "increasing depth is the only way to increase accuracy".

Each budget of hidden units (100, 200, 1000) is spent on one layer, or split as evenly as
possible over 2, 3 or 4 layers, the remainder going to the first layers:

    budget 100:  100 | 50-50   | 34-33-33    | 25-25-25-25
    budget 200:  200 | 100-100 | 67-67-66    | 50-50-50-50
    budget 1000: 1000 | 500-500 | 334-333-333 | 250-250-250-250

784 inputs -> dense layers with ReLU, each followed by dropout 0.2 -> 10 logits; Glorot-uniform
init, Adam 1e-3, batch 32, 10 epochs (the assignment's regime; it allowed dropout, and 0.2 added
0.1-0.2 points of test accuracy at every budget in a 2-seed calibration of the 1-layer nets).
Test accuracy after the last epoch is compared with the assignment's answers (0.9762, 0.9806,
0.9832 for its best net per budget), taken as bars of 0.975, 0.98 and 0.983.

Every architecture has its own shapes, so each is a group of its own; its seeds train together
under vmap, a whole epoch per program call.
"""

import itertools
import os

import matplotlib.pyplot as plt
import ml_collections
import numpy as np

from engine import base_config, report
from engine import records as rs
from engine import verdict as v
from engine.errors import UserError

NAME = 'depth_vs_width'
VARIANTS = ('quick',)
HIDDEN = 'model.hidden'
ASSIGNMENT = {100: 0.9762, 200: 0.9806, 1000: 0.9832}


def split(budget: int, depth: int) -> tuple[int, ...]:
  """`budget` units over `depth` layers, as even as possible, the larger layers first."""
  base, extra = divmod(budget, depth)
  return tuple(base + (i < extra) for i in range(depth))


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
  c = base_config.get_config()
  c.model = ml_collections.ConfigDict(
    dict(
      name='mlp',
      hidden=(100,),
      num_classes=10,
      activation='relu',
      kernel_init='glorot_uniform',
      init_scale=1.0,
      batch_norm=False,
      dropout=True,
      dropout_rate=0.2,
    )
  )
  c.optimizer = ml_collections.ConfigDict(dict(name='adam', learning_rate=1e-3))
  c.train.update(dict(epochs=10, batch_size=32, eval_train_size=5000))
  budgets, depths = (100, 200, 1000), (1, 2, 3, 4)
  c.sweep.model = ml_collections.ConfigDict(
    dict(hidden=tuple(split(b, d) for b in budgets for d in depths))
  )
  c.verdict = ml_collections.ConfigDict(
    dict(min_seeds=3, budgets=budgets, bars=(0.975, 0.98, 0.983))
  )
  if variant == 'quick':
    c.dataset.update(dict(validation_size=500, train_subset=3000, test_subset=1000))
    c.train.update(dict(epochs=2, eval_train_size=1000, eval_batch_size=500))
    c.sweep.model.hidden = ((16,), (8, 8), (64,), (32, 32))
    c.verdict.update(dict(budgets=(16, 64), bars=(0.5, 0.5)))
    c.seeds = 1
  return c


def validate(config) -> None:
  for hidden in config.sweep.model.get('hidden', (config.model.hidden,)):
    if not hidden or any(not isinstance(w, int) or w < 1 for w in hidden):
      raise UserError(
        f'Each architecture in sweep.model.hidden must be a non-empty tuple of '
        f'positive layer widths; got {hidden!r}. Pass e.g. '
        '--config.sweep.model.hidden="((100,),(50,50))".'
      )
  rates = (config.model.dropout_rate, *config.sweep.model.get('dropout_rate', ()))
  if not config.model.dropout and any(rates):
    raise UserError(
      f'model.dropout is false, so the dropout rate(s) {rates} would be ignored; '
      'pass --config.model.dropout=true, or a rate of 0.'
    )
  if len(config.verdict.budgets) != len(config.verdict.bars):
    raise UserError(
      f'verdict.budgets {tuple(config.verdict.budgets)} and verdict.bars '
      f'{tuple(config.verdict.bars)} must have one bar per budget.'
    )


def _architecture(record):
  hidden = tuple(record['point'][HIDDEN])
  return sum(hidden), len(hidden), hidden


def by_architecture(records, metric='test_accuracy') -> dict:
  """`{(budget, depth, hidden): per-seed values}` of the final `metric`; diverged left out."""
  return rs.by_point(records, _architecture, metric)


def parameters(hidden, inputs=784, classes=10) -> int:
  sizes = (inputs, *hidden, classes)
  return sum(a * b + b for a, b in itertools.pairwise(sizes))


def _depth_effect(per_depth: dict) -> str:
  """Each deeper split against one layer: helped / hurt beyond the seed spread, or within it."""
  if 1 not in per_depth or len(per_depth) < 2:
    return 'n/a'
  one, calls, parts = per_depth[1], set(), []
  for d, x in sorted(per_depth.items()):
    if d == 1:
      continue
    diff = x.mean() - one.mean()
    noise = max(rs.spread(one), rs.spread(x))
    call = 'helped' if diff > noise else 'hurt' if diff < -noise else 'within spread'
    calls.add(call)
    parts.append(f'{d} layers {diff:+.4f} ({call})')
  if calls == {'within spread'}:
    word = 'no clear effect'
  elif 'helped' in calls and 'hurt' in calls:
    word = 'mixed'
  else:
    word = 'helped' if 'helped' in calls else 'hurt'
  return f'{word}: ' + ', '.join(parts)


def verdict(results) -> v.Verdict:
  cfg = ml_collections.ConfigDict(results['config']['verdict'])
  test = by_architecture(results['records'])
  budgets = sorted({b for b, _, _ in test})
  depths = sorted({d for _, d, _ in test})
  cell = {(b, d): x for (b, d, _), x in test.items()}
  arch = {(b, d): h for b, d, h in test}
  checks = []
  for budget, bar in zip(cfg.budgets, cfg.bars):
    mine = {d: cell[(budget, d)] for d in depths if (budget, d) in cell}
    if not mine:
      checks.append(
        v.Check(
          f'the best {budget}-unit net meets the bar',
          f'mean test acc >= {bar}',
          'n/a (not trained)',
          None,
        )
      )
      continue
    best = max(mine, key=lambda d: mine[d].mean())
    x = mine[best]
    checks.append(
      v.Check(
        claim=f'the best {budget}-unit net meets the assignment ({ASSIGNMENT.get(budget, "-")})',
        threshold=f'mean test acc >= {bar}',
        measured=f'{"-".join(map(str, arch[(budget, best)]))}: {x.mean():.4f} '
        f'(spread {rs.spread(x):.4f})',
        passed=bool(x.mean() >= bar),
        value=float(x.mean()),
      )
    )
  rises, parts = [], []
  for d in depths:
    means = [cell[(b, d)].mean() for b in budgets if (b, d) in cell]
    if len(means) >= 2:
      rises.append(all(b > a for a, b in itertools.pairwise(means)))
      parts.append(f'{d} layer(s): ' + ' < '.join(f'{m:.4f}' for m in means))
  checks.append(
    v.Check(
      claim='width alone raises accuracy: at each depth, more units give higher test accuracy '
      '(so depth is not the only way)',
      threshold=f'mean rises with the budget ({" -> ".join(map(str, budgets))}) at every depth',
      measured='; '.join(parts) if parts else 'n/a (fewer than 2 budgets)',
      passed=all(rises) if rises else None,
      value=float(np.mean(rises)) if rises else None,
    )
  )
  table = []
  for b in budgets:
    row = {'budget': b, 'bar': dict(zip(cfg.budgets, cfg.bars)).get(b, '-')}
    for d in depths:
      x = cell.get((b, d))
      row[f'{d} layer(s)'] = (
        '-' if x is None else (f'{"-".join(map(str, arch[(b, d)]))}: {rs.stats(x).format(4)}')
      )
    row['max seed spread'] = f'{max(rs.spread(cell[(b, d)]) for d in depths if (b, d) in cell):.4f}'
    row['splitting the budget over more layers'] = _depth_effect(
      {d: cell[(b, d)] for d in depths if (b, d) in cell}
    )
    table.append(row)
  diverged = sum(r['diverged'] for r in results['records'])
  outcome, reasons = v.decide(
    checks,
    v.run_reasons(
      seeds=results['seeds'],
      min_seeds=cfg.min_seeds,
      standin=results['dataset']['standin'],
      diverged=diverged,
    ),
  )
  return v.Verdict(outcome, checks, table, reasons)


def plot(results, workdir) -> list[str]:
  cfg = results['config']['verdict']
  test = by_architecture(results['records'])
  budgets = sorted({b for b, _, _ in test})
  depths = sorted({d for _, d, _ in test})
  bars = dict(zip(cfg['budgets'], cfg['bars']))
  fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.4))
  for b in budgets:
    xs = [d for d in depths if any(k[:2] == (b, d) for k in test)]
    vals = [next(x for k, x in test.items() if k[:2] == (b, d)) for d in xs]
    (line,) = left.plot(xs, [x.mean() for x in vals], marker='o', label=f'{b} units')
    left.fill_between(
      xs, [x.min() for x in vals], [x.max() for x in vals], alpha=0.25, color=line.get_color()
    )
    if b in bars:
      left.axhline(bars[b], ls='--', lw=0.8, color=line.get_color())
  left.set(
    xlabel='hidden layers sharing the budget',
    ylabel='test accuracy',
    xticks=depths,
    title='fixed budget, spread over more layers (dashed: bars)',
  )
  for d in depths:
    xs = [b for b in budgets if any(k[:2] == (b, d) for k in test)]
    vals = [next(x for k, x in test.items() if k[:2] == (b, d)) for b in xs]
    (line,) = right.plot(xs, [x.mean() for x in vals], marker='o', label=f'{d} layer(s)')
    right.fill_between(
      xs, [x.min() for x in vals], [x.max() for x in vals], alpha=0.2, color=line.get_color()
    )
  right.set(
    xscale='log',
    xlabel='hidden units in total (budget)',
    ylabel='test accuracy',
    title='fixed depth, more units',
  )
  for ax in (left, right):
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, title='mean; band = seed min-max', title_fontsize=8)
  fig.suptitle(
    f'MNIST MLPs, {results["config"]["train"]["epochs"]} epochs, {results["seeds"]} seed(s)'
  )
  return [report.save_figure(fig, os.path.join(workdir, 'accuracy_vs_depth_and_width.png'))]
