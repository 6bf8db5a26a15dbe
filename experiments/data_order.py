"""Data order (dying ReLU): on the Playground's network, what does label-sorted SGD really do?

Seed: the CS155-style problem set's problem C (`002 1C`). Its answer: "When all the negative
examples are looped through first, the model learns a heavy negative bias so all the negative
points are classified correctly. Thus, when the positive points come around, the negative bias
is so large that the positive points aren't labeled as such. [...] all of the points being
classified as negative means they will go to zero and 'die' [...] learning won't happen after
the death of the nodes."

The model is the TensorFlow Playground's own (nn.ts, playground.ts, state.ts): inputs (x1, x2),
hidden layers of 4 and 2 ReLUs, one tanh output unit trained with 0.5 (y - t)^2 towards t = -1
(orange, the negatives) and +1 (blue), read by its sign; weights U[-0.5, 0.5), biases 0.1;
plain SGD averaging the gradient over batches of 10 (the Playground's default batch size); its
learning-rate menu from 0.03 to 3. The data: the document names no data set, so this uses the
Playground's default, the circle (500 points, noise 0, half for training): the negatives are
the outer ring. One difference: the Playground walks its training points in one fixed order
every pass; here every pass draws a fresh order within each class.

Both orders see the same points and the same initial weights per seed; `train.order` is the
only difference: 'sorted_by_label' walks each pass as all negatives, then all positives. The
probe runs after every step on the whole training set, so each part of the answer is measured
at the moment it is about:
  bias       after the last batch of pass 1 that holds only negatives: the output unit's bias,
             whether it outweighs what the inputs add on every training point (|b| >= max |w.h|,
             so the bias alone decides every sign: "heavy"), and the negatives labelled negative;
  positives  during the positives' block of pass 1 and at its end: the positives labelled
             positive;
  dead       at the end: the hidden ReLUs that output 0 on every training point, sorted vs
             shuffled;
  learning   at the end: a whole hidden layer dead, so the output no longer depends on the
             input and no gradient reaches the layers below ("learning won't happen").
Each part is judged per learning rate over the seeds; the report says at which rates it holds.
"""

import os
import typing

import jax.numpy as jnp
import ml_collections
import numpy as np

from engine import base_config, planar, report
from engine import records as rs
from engine import run as run_lib
from engine import verdict as v
from nets import activations

NAME = 'data_order'
VARIANTS = ('quick',)
ORDER, LR = 'train.order', 'optimizer.learning_rate'
SORTED, SHUFFLED = 'sorted_by_label', 'shuffled'
DOCUMENT = {
  'bias': 'the negatives come first, so the model learns a heavy negative bias and every '
  'negative is classified correctly',
  'positives': 'when the positives come around, the negative bias is so large that they are not '
  'labelled positive',
  'dead': 'the ReLUs "die" (the dying ReLU problem)',
  'learning': "learning won't happen after the death of the nodes",
}


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
  c = base_config.get_config()
  c.dataset.update(dict(name='circle', validation_size=100, download=False, allow_standin=False))
  c.dataset.num_samples = 500  # the Playground's NUM_SAMPLES_CLASSIFY
  c.dataset.noise = 0.0
  c.dataset.train_fraction = 0.5  # its default "ratio of training to test data", 50%
  c.model = planar.playground_model()
  c.optimizer = ml_collections.ConfigDict(dict(name='sgd', learning_rate=0.03))
  c.train.update(
    dict(
      epochs=40,  # one epoch = one pass; 40 passes = 20 blocks of each class after the first
      batch_size=10,
      order=SHUFFLED,
      probe_every_steps=1,
      eval_batch_size=256,
      eval_train_size=0,
    )
  )
  c.sweep.train = ml_collections.ConfigDict(dict(order=(SHUFFLED, SORTED)))
  # The Playground's learning-rate menu from its default 0.03 up (index.html); 10 left out.
  c.sweep.optimizer = ml_collections.ConfigDict(dict(learning_rate=(0.03, 0.1, 0.3, 1.0, 3.0)))
  c.seeds = 10
  c.sweep_max_models = 0
  c.verdict = ml_collections.ConfigDict(
    dict(
      min_seeds=10,
      # "Not labelled as such": at most 5% of the ~125 positives (about 6 points, those nearest
      # the ring) labelled positive at any step of their block; the count is exact, not sampled.
      max_positive_recall=0.05,
      # "The ReLUs die": at least half of the 6 hidden ReLUs dead on every training input.
      min_dead=0.5,
      # A part holds at a learning rate when it holds for at least 80% of the seeds: with 10
      # seeds, 8/10 is two binomial standard errors (0.16 at p = 0.5) above a coin flip.
      min_seed_fraction=0.8,
      # Dying is put down to the order when the fraction of sorted seeds that die exceeds the
      # shuffled one by 0.5: over twice the standard error of a difference of two fractions of
      # 10 seeds (sqrt(2 * 0.25 / 10) = 0.22).
      min_fraction_gap=0.5,
    )
  )
  if variant == 'quick':
    c.dataset.num_samples = 100
    c.train.epochs = 2
    c.seeds = 2
    c.sweep.optimizer.learning_rate = (0.03, 3.0)
  return c


def _score_layer(model, params):
  """(w, b) with class-1 score w.h + b over the last hidden layer's outputs h."""
  out = params[f'Dense_{len(model.hidden)}']
  w, b = out['kernel'], out['bias']
  if w.shape[-1] == 1:
    return w[:, 0], b[0]
  return w[:, 1] - w[:, 0], b[1] - b[0]


def probe(model, state, images, labels):
  """The output bias, what the inputs add to the output, the classes' labels and dead ReLUs."""
  _, inter = model.apply(
    {'params': state.params},
    images,
    train=False,
    capture_intermediates=True,
    mutable=['intermediates'],
  )
  pre = [inter['intermediates'][f'Dense_{i}']['__call__'][0] for i in range(len(model.hidden))]
  h = activations.get(model.activation)(pre[-1])
  w, b = _score_layer(model, state.params)
  score = h @ w + b
  pred = score > 0
  positives, negatives = labels == 1, labels == 0
  dead = [jnp.all(z <= 0, axis=0) for z in pre]
  return {
    'output_bias': b,
    'input_term_max': jnp.max(jnp.abs(h @ w)),
    'negatives_correct': jnp.sum(negatives & ~pred) / jnp.sum(negatives),
    'positive_recall': jnp.sum(positives & pred) / jnp.sum(positives),
    'dead_fraction': jnp.mean(jnp.concatenate(dead).astype(jnp.float32)),
    'layer_dead': jnp.any(jnp.stack([jnp.all(d) for d in dead])).astype(jnp.float32),
  }


class PassLayout(typing.NamedTuple):
  """Where the classes sit in a sorted pass, in SGD steps (1-based)."""

  per_pass: int  # steps in one pass
  only_negatives: int  # the last step whose batch holds only negatives
  negatives: int
  positives: int


def pass_layout(config) -> PassLayout:
  labels = run_lib.load_dataset(ml_collections.ConfigDict(config)).train_y
  batch = config['train']['batch_size']
  n_neg = int(np.sum(labels == 0))
  return PassLayout(len(labels) // batch, n_neg // batch, n_neg, int(np.sum(labels == 1)))


def traces(records, metric) -> dict:
  """{(order, learning rate): array (seeds, steps)} of a probe metric, diverged models included."""
  return rs.by_point(records, (ORDER, LR), lambda r: r['trace'][metric], include_diverged=True)


class Part(typing.NamedTuple):
  """One part of the claim, per learning rate: which seeds show it, in each order."""

  passed: dict  # {(order, rate): bool array over seeds}
  holds: dict  # {rate: bool}, as declared in the config


def seed_tests(t, layout: PassLayout, cfg) -> dict:
  """Per part, {(order, rate): bool per seed} from the traces `t[metric][(order, rate)]`."""
  i_neg = layout.only_negatives - 1  # trace index of a step is step - 1
  block = slice(layout.only_negatives, layout.per_pass)
  out = {'bias': {}, 'positives': {}, 'dead': {}, 'learning': {}}
  for key, bias in t['output_bias'].items():
    at = bias[:, i_neg]
    out['bias'][key] = (
      (at < 0)
      & (-at >= t['input_term_max'][key][:, i_neg])
      & (t['negatives_correct'][key][:, i_neg] == 1)
    )
    out['positives'][key] = (
      np.max(t['positive_recall'][key][:, block], 1) <= cfg.max_positive_recall
    )
    out['dead'][key] = t['dead_fraction'][key][:, -1] >= cfg.min_dead
    out['learning'][key] = t['layer_dead'][key][:, -1] == 1
  return out


def judge(passed: dict, cfg, *, against_shuffled: bool) -> dict:
  """{rate: whether the part holds}: in >= min_seed_fraction of the sorted seeds and, where the
  part is put down to the order, in min_fraction_gap more of them than of the shuffled seeds."""
  holds = {}
  for (order, rate), ok in passed.items():
    if order != SORTED:
      continue
    frac = float(np.mean(ok))
    good = frac >= cfg.min_seed_fraction
    if against_shuffled:
      other = passed.get((SHUFFLED, rate))
      good = good and other is not None and frac - float(np.mean(other)) >= cfg.min_fraction_gap
    holds[rate] = bool(good)
  return holds


def _rates_text(holds: dict) -> str:
  yes = [f'{r:g}' for r, h in holds.items() if h]
  no = [f'{r:g}' for r, h in holds.items() if not h]
  if not no:
    return 'holds at every learning rate'
  if not yes:
    return 'holds at no learning rate'
  return f'holds at lr {", ".join(yes)}; not at {", ".join(no)}'


def _counts(passed: dict, order: str) -> str:
  return ', '.join(
    f'{rate:g}: {int(np.sum(ok))}/{len(ok)}' for (o, rate), ok in passed.items() if o == order
  )


def part_row(part: str, passed: dict, holds: dict, *, threshold: str, detail: str) -> v.Claim:
  """The row of one part: HOLDS when it holds at every learning rate swept."""
  measured = (
    f'{_rates_text(holds)}. Sorted seeds showing it, by lr: {_counts(passed, SORTED)}; '
    f'shuffled: {_counts(passed, SHUFFLED)}. {detail}'
  )
  return v.test(
    f'002 1C ({part})',
    DOCUMENT[part],
    document='yes (sorted order)',
    measured=measured,
    threshold=threshold + '; the row holds when the part holds at every learning rate swept',
    passed=bool(holds) and all(holds.values()),
    value=float(np.mean(list(holds.values()))) if holds else None,
  )


def _median_by_rate(values: dict, order: str) -> str:
  return ', '.join(f'{r:g}: {np.nanmedian(x):.2f}' for (o, r), x in values.items() if o == order)


def _tally(values: dict, test) -> str:
  """'k/n': how many sorted seeds, over every rate, pass `test`."""
  sorted_values = [np.asarray(x) for (o, _), x in values.items() if o == SORTED]
  hits = sum(int(np.sum(test(x))) for x in sorted_values)
  return f'{hits}/{sum(len(x) for x in sorted_values)}'


def claims(t, layout: PassLayout, cfg) -> list:
  """The four rows of `002 1C` from the probe traces."""
  tests = seed_tests(t, layout, cfg)
  i_neg = layout.only_negatives - 1
  bias_at = {k: x[:, i_neg] for k, x in t['output_bias'].items()}
  term_at = {k: x[:, i_neg] for k, x in t['input_term_max'].items()}
  negatives_at = {k: x[:, i_neg] for k, x in t['negatives_correct'].items()}
  heavy_at = {k: -bias_at[k] >= term_at[k] for k in bias_at}
  block = slice(layout.only_negatives, layout.per_pass)
  recall_max = {k: np.max(x[:, block], 1) for k, x in t['positive_recall'].items()}
  recall_end = {k: x[:, layout.per_pass - 1] for k, x in t['positive_recall'].items()}
  dead_end = {k: x[:, -1] for k, x in t['dead_fraction'].items()}
  where = f'after step {layout.only_negatives} of pass 1 (its last batch of only negatives)'
  rows = [
    part_row(
      'bias',
      tests['bias'],
      judge(tests['bias'], cfg, against_shuffled=False),
      threshold=f'per seed, {where}: output bias b < 0 with |b| >= max over training points of '
      '|w.h| (the bias alone decides every sign), and every negative labelled negative; in >= '
      f'{cfg.min_seed_fraction:.0%} of the sorted seeds',
      detail=f'Of the sorted seeds (all rates): b < 0 in {_tally(bias_at, lambda b: b < 0)}, '
      f'every negative correct in {_tally(negatives_at, lambda n: n == 1)}, |b| >= max |w.h| in '
      f'{_tally(heavy_at, lambda h: h)}. Median b {where}, by lr: sorted '
      f'{_median_by_rate(bias_at, SORTED)}; shuffled {_median_by_rate(bias_at, SHUFFLED)}; median '
      f'max |w.h| (sorted) {_median_by_rate(term_at, SORTED)}.',
    ),
    part_row(
      'positives',
      tests['positives'],
      judge(tests['positives'], cfg, against_shuffled=False),
      threshold=f'per seed, the fraction of positives labelled positive at every step of their '
      f'block in pass 1 (steps {layout.only_negatives + 1}-{layout.per_pass}, its end included) '
      f'<= {cfg.max_positive_recall:g}; in >= {cfg.min_seed_fraction:.0%} of the sorted seeds',
      detail='Median fraction labelled positive (sorted), highest in the block, by lr: '
      f'{_median_by_rate(recall_max, SORTED)}; at its end: {_median_by_rate(recall_end, SORTED)}.',
    ),
    part_row(
      'dead',
      tests['dead'],
      judge(tests['dead'], cfg, against_shuffled=True),
      threshold=f'per seed, at the end, >= {cfg.min_dead:g} of the hidden ReLUs dead (0 on every '
      f'training input); in >= {cfg.min_seed_fraction:.0%} of the sorted seeds and in '
      f'{cfg.min_fraction_gap:g} more of them than of the shuffled seeds',
      detail=f'Median dead fraction at the end, by lr: sorted {_median_by_rate(dead_end, SORTED)}; '
      f'shuffled {_median_by_rate(dead_end, SHUFFLED)}.',
    ),
    part_row(
      'learning',
      tests['learning'],
      judge(tests['learning'], cfg, against_shuffled=True),
      threshold='per seed, at the end, a whole hidden layer dead (the output is then the same for '
      f'every input and no gradient reaches the layers below); in >= {cfg.min_seed_fraction:.0%} '
      f'of the sorted seeds and in {cfg.min_fraction_gap:g} more of them than of the shuffled '
      'seeds',
      detail='',
    ),
  ]
  return rows


METRICS = (
  'output_bias',
  'input_term_max',
  'negatives_correct',
  'positive_recall',
  'dead_fraction',
  'layer_dead',
)


def verdict(results) -> v.Verdict:
  cfg = ml_collections.ConfigDict(results['config']['verdict'])
  records = results['records']
  layout = pass_layout(results['config'])
  t = {m: traces(records, m) for m in METRICS}
  orders = {k[0] for k in t['output_bias']}
  if {SORTED, SHUFFLED} <= orders:
    rows = claims(t, layout, cfg)
  else:
    rows = [
      v.not_applicable(
        f'002 1C ({part})', DOCUMENT[part], document='yes', why='needs both orders in the sweep'
      )
      for part in DOCUMENT
    ]
  i_neg = layout.only_negatives - 1
  final = {
    m: rs.by_point(records, (ORDER, LR), m, include_diverged=True)
    for m in ('train_accuracy', 'test_accuracy', 'test_loss')
  }
  table = []
  for key in t['output_bias']:
    order, rate = key
    table.append(
      {
        'order': order,
        'learning rate': f'{rate:g}',
        f'output bias, step {layout.only_negatives}': rs.stats(
          t['output_bias'][key][:, i_neg]
        ).format(2),
        f'max |w.h|, step {layout.only_negatives}': rs.stats(
          t['input_term_max'][key][:, i_neg]
        ).format(2),
        f'negatives correct, step {layout.only_negatives}': rs.stats(
          t['negatives_correct'][key][:, i_neg]
        ).format(2),
        'positives labelled positive, pass 1 end': rs.stats(
          t['positive_recall'][key][:, layout.per_pass - 1]
        ).format(2),
        'positives labelled positive, end': rs.stats(t['positive_recall'][key][:, -1]).format(2),
        'dead fraction, end': rs.stats(t['dead_fraction'][key][:, -1]).format(2),
        'seeds with a dead layer': f'{int(np.sum(t["layer_dead"][key][:, -1]))}',
        'final train accuracy': rs.stats(final['train_accuracy'][key]).format(3),
        'final test loss': rs.stats(final['test_loss'][key]).format(3),
        'seeds': len(final['test_loss'][key]),
      }
    )
  return v.of_run(
    results, rows, table, min_seeds=cfg.min_seeds, diverged=sum(r['diverged'] for r in records)
  )


def plot(results, workdir) -> list[str]:
  records = results['records']
  layout = pass_layout(results['config'])
  panels = [
    ('output_bias', 'output bias'),
    ('positive_recall', 'positives labelled positive'),
    ('dead_fraction', 'dead ReLU fraction'),
  ]
  t = {m: traces(records, m) for m, _ in panels}
  steps = np.asarray(records[0]['trace']['step']) / layout.per_pass
  orders = sorted({k[0] for k in t['output_bias']})
  paths = []
  for name, passes in (('first_passes', 3), ('whole_run', None)):
    fig, axes = report.pyplot().subplots(
      len(orders), len(panels), figsize=(4.6 * len(panels), 3.4 * len(orders)), squeeze=False
    )
    shown = steps <= passes if passes else np.ones_like(steps, bool)
    for r, order in enumerate(orders):
      for ax, (metric, label) in zip(axes[r], panels):
        for (o, rate), x in t[metric].items():
          if o == order:
            ax.plot(steps[shown], np.nanmean(x[:, shown], 0), label=f'lr {rate:g}', lw=1)
        for p in range(1, int(steps[shown][-1]) + 1):
          ax.axvline(p, color='k', lw=0.5, ls=':')
        if passes and order == SORTED:
          ax.axvline(layout.only_negatives / layout.per_pass, color='r', lw=0.6, ls='--')
        ax.set(xlabel='passes (dotted: end of a pass)', title=f'{order}: {label}')
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(
      f'{results["dataset"]["name"]}, the Playground network (4-2 ReLU, tanh output, squared '
      'error, batch 10): mean over seeds' + ('; red: last all-negative batch' if passes else ''),
      fontsize=10,
    )
    fig.tight_layout()
    paths.append(report.save_figure(fig, os.path.join(workdir, f'data_order_{name}.png')))
  return paths
