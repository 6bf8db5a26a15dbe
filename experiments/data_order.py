"""Data order (dying ReLU): does SGD over label-sorted data drive the bias negative, kill ReLUs?

Seed: the CS155-style problem set's problem C (dying ReLU): a fully-connected ReLU network
trained with SGD, batch size 1, for one pass over a data set holding all negatives first, then
all positives. The network is the playground one of `weight_init` (2 -> 4 -> 2 -> 2, ReLU,
Glorot normal) on the circle problem (label 0: the outer ring, the "negatives").

Both orders see the same examples and the same initial weights per seed; `train.order` is the
only difference: 'sorted_by_label' walks each pass as all 0s then all 1s (random within a
class), 'shuffled' as a fresh permutation. The probe runs after every step on the whole training
set (`train.probe_every_steps`): the output bias (the class-1 logit's bias minus the class-0
one), the fraction of hidden ReLU units that are dead (pre-activation <= 0 on every training
input, so no gradient can ever reach their weights again), the training accuracy and the
fraction of positives labelled positive.

The assignment's answer: during the block of negatives every gradient says "lower the class-1
score", which the output bias does directly and the hidden units do by pushing their
pre-activations below zero, where ReLU passes no gradient; units dead on every input stay dead
when the positives arrive. The checks test each part separately (bias, dead fraction, positives
labelled negative, final accuracy), so a run can show which part of the story holds. With
cross-entropy the push fades as soon as the negatives are fit (the class-1 probability, and
with it every gradient, goes to 0), which works against units dying of order alone.
"""

import os

import jax.numpy as jnp
import ml_collections
import numpy as np

from engine import base_config, planar, report
from engine import records as rs
from engine import run as run_lib
from engine import verdict as v

NAME = 'data_order'
VARIANTS = ('quick',)
ORDER = 'train.order'
SORTED, SHUFFLED = 'sorted_by_label', 'shuffled'


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
  c = base_config.get_config()
  c.dataset.update(dict(name='circle', validation_size=100, download=False, allow_standin=False))
  c.dataset.num_samples = 500
  c.dataset.noise = 0.0
  c.dataset.train_fraction = 0.5
  c.model = ml_collections.ConfigDict(
    dict(
      name='mlp',
      hidden=(4, 2),
      num_classes=2,
      activation='relu',
      kernel_init='glorot_normal',
      init_scale=1.0,
      batch_norm=False,
      dropout=False,
      dropout_rate=0.0,
    )
  )
  c.optimizer = ml_collections.ConfigDict(dict(name='sgd', learning_rate=0.03))
  c.train.update(
    dict(
      epochs=4,
      batch_size=1,
      order=SHUFFLED,
      probe_every_steps=1,
      eval_batch_size=256,
      eval_train_size=0,
    )
  )
  c.sweep.train = ml_collections.ConfigDict(dict(order=(SHUFFLED, SORTED)))
  c.seeds = 8
  c.sweep_max_models = 0
  c.verdict = ml_collections.ConfigDict(
    dict(
      min_seeds=5,
      min_bias_gap=1.0,
      min_dead=0.5,
      min_dead_gap=0.25,
      max_positive_recall=0.05,
      min_accuracy_gap=0.2,
    )
  )
  if variant == 'quick':
    c.dataset.num_samples = 100
    c.train.epochs = 2
    c.seeds = 2
  return c


def probe(model, state, images, labels):
  """Output bias, dead ReLU fraction, accuracy and positives labelled positive, on the train set."""
  logits = model.apply({'params': state.params}, images, train=False)
  dead = planar.dead_units(model, state.params, images)
  bias = state.params[f'Dense_{len(model.hidden)}']['bias']
  pred = jnp.argmax(logits, -1)
  positives = labels == 1
  return {
    'output_bias': bias[1] - bias[0],
    'dead_fraction': jnp.mean(dead.astype(jnp.float32)) if dead.size else jnp.zeros(()),
    'accuracy': jnp.mean((pred == labels).astype(jnp.float32)),
    'positive_recall': jnp.sum(jnp.where(positives, pred == 1, False)) / jnp.sum(positives),
  }


def _traces(records, metric):
  """{order: array (seeds, steps)}, diverged models included, and the step numbers."""
  traces = rs.by_point(records, ORDER, lambda r: r['trace'][metric], include_diverged=True)
  return traces, np.asarray(records[-1]['trace']['step'] if records else None)


def _pass_steps(config):
  """(steps per pass, the step of the last negative in a sorted pass), from the data itself."""
  labels = run_lib.load_dataset(ml_collections.ConfigDict(config)).train_y
  batch = config['train']['batch_size']
  return len(labels) // batch, -(-int(np.sum(labels == 0)) // batch)


def verdict(results) -> v.Verdict:
  cfg = ml_collections.ConfigDict(results['config']['verdict'])
  records = results['records']
  bias, steps = _traces(records, 'output_bias')
  dead, _ = _traces(records, 'dead_fraction')
  recall, _ = _traces(records, 'positive_recall')
  acc, _ = _traces(records, 'accuracy')
  per_pass, last_negative = _pass_steps(results['config'])
  first = steps <= per_pass
  have = SORTED in bias and SHUFFLED in bias
  checks = []
  if have:
    low = {o: np.nanmin(bias[o][:, first], 1) for o in bias}
    gap = float(np.median(low[SHUFFLED]) - np.median(low[SORTED]))
    checks.append(
      v.Check(
        claim='sorted order drives the output bias far negative during the negatives; '
        'shuffled order does not',
        threshold=f'median lowest bias in pass 1: shuffled - sorted >= {cfg.min_bias_gap:g} '
        '(logits; 1 = a factor e in the odds)',
        measured=f'sorted {np.median(low[SORTED]):.2f}, shuffled {np.median(low[SHUFFLED]):.2f}',
        passed=gap >= cfg.min_bias_gap,
        value=gap,
      )
    )
    peak = {o: np.nanmax(dead[o], 1) for o in dead}
    checks.append(
      v.Check(
        claim='sorted order kills a large fraction of the ReLUs; shuffled order does not',
        threshold=f'mean over seeds of the highest dead fraction at any step: sorted >= '
        f'{cfg.min_dead:g} and >= shuffled + {cfg.min_dead_gap:g}',
        measured=f'sorted {rs.stats(peak[SORTED]).format(3)}, '
        f'shuffled {rs.stats(peak[SHUFFLED]).format(3)}',
        passed=bool(
          peak[SORTED].mean() >= cfg.min_dead
          and peak[SORTED].mean() >= peak[SHUFFLED].mean() + cfg.min_dead_gap
        ),
        value=float(peak[SORTED].mean()),
      )
    )
    neg_end = int(np.argmax(steps >= last_negative))
    rec = recall[SORTED][:, neg_end]
    checks.append(
      v.Check(
        claim='after the negatives, the sorted-order model labels the positives negative',
        threshold=f'fraction of positives labelled positive after the last negative of pass 1 '
        f'<= {cfg.max_positive_recall} for every seed',
        measured=f'max over seeds {rec.max():.3f} (mean {rec.mean():.3f}) at step {steps[neg_end]}',
        passed=bool(rec.max() <= cfg.max_positive_recall),
        value=float(rec.max()),
      )
    )
    fin = {o: acc[o][:, -1] for o in acc}
    acc_gap = float(fin[SHUFFLED].mean() - fin[SORTED].mean())
    checks.append(
      v.Check(
        claim='sorted order ends far less accurate than shuffled order on the training set',
        threshold=f'mean final accuracy: shuffled - sorted >= {cfg.min_accuracy_gap}',
        measured=f'sorted {rs.stats(fin[SORTED]).format(3)}, '
        f'shuffled {rs.stats(fin[SHUFFLED]).format(3)}',
        passed=acc_gap >= cfg.min_accuracy_gap,
        value=acc_gap,
      )
    )
  else:
    checks.append(
      v.Check('sorted vs shuffled', 'needs both orders in the sweep', 'not in the grid', None)
    )
  table = []
  test = rs.by_point(records, ORDER, 'test_accuracy', include_diverged=True)
  for order in bias:
    table.append(
      {
        'order': order,
        'lowest output bias, pass 1': rs.stats(np.nanmin(bias[order][:, first], 1)).format(3),
        'final output bias': rs.stats(bias[order][:, -1]).format(3),
        'highest dead fraction': rs.stats(np.nanmax(dead[order], 1)).format(3),
        'final dead fraction': rs.stats(dead[order][:, -1]).format(3),
        'final train accuracy': rs.stats(acc[order][:, -1]).format(3),
        'final positives labelled positive': rs.stats(recall[order][:, -1]).format(3),
        'final test accuracy': rs.stats(test[order]).format(3),
        'seeds': len(test[order]),
      }
    )
  return v.of_run(
    results, checks, table, min_seeds=cfg.min_seeds, diverged=sum(r['diverged'] for r in records)
  )


def plot(results, workdir) -> list[str]:
  records = results['records']
  per_pass, _ = _pass_steps(results['config'])
  panels = [
    ('output_bias', 'output bias (class 1 - class 0)'),
    ('dead_fraction', 'dead ReLU fraction'),
    ('accuracy', 'training accuracy'),
  ]
  fig, axes = report.plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.8), squeeze=False)
  for ax, (metric, label) in zip(axes[0], panels):
    traces, steps = _traces(records, metric)
    for order, t in traces.items():
      (line,) = ax.plot(steps, np.nanmean(t, 0), label=order)
      ax.fill_between(steps, np.nanmin(t, 0), np.nanmax(t, 0), alpha=0.2, color=line.get_color())
    for p in range(1, int(steps[-1] // per_pass) + 1):
      ax.axvline(p * per_pass, color='k', lw=0.6, ls=':')
    ax.set(xlabel='SGD step (batch 1; dotted: end of a pass)', ylabel=label, title=label)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
  fig.suptitle(
    f'{results["config"]["dataset"]["name"]}: sorted (all 0s, then all 1s) vs '
    'shuffled order; mean over seeds, band = min-max',
    fontsize=10,
  )
  fig.tight_layout()
  return [report.save_figure(fig, os.path.join(workdir, 'bias_and_dead_relus.png'))]
