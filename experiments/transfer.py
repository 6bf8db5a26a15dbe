"""Retraining pretrained weights transfers better than freezing them (the answer of `003 P9`).

Source: the deep-learning exam `003` P9 reuses VGG19 pretrained on ImageNet for MNIST in two
ways, (a) a frozen feature extractor with a new dense layer on top and (b) fine-tuning with the
first 10 layers frozen, and answers "which approach gives a better transferability?" with "the
first approach ... because it allows us to continue training the weights ... by freezing the
weights, our model does not learn the deep features of our dataset". Its code swaps the two
(approach 1 trains all 20,029,514 parameters, approach 2 freezes all of VGG19; `answer_keys`
has the rows), so its logs (0.9844 vs 0.9570 val accuracy) compare full fine-tuning with a
frozen extractor, and the question the answer reasons about was never run.

Setup measured here (no ImageNet weights offline): a source CNN (nets/cnn.py: conv blocks,
then dense layers) trained on MNIST digits 0-4, then the target task, digits 5-9, learned four
ways at several target training-set sizes: from scratch; the source's conv blocks frozen with a
new dense head (the feature extractor, (a)); the first block frozen and the rest retrained
(partial fine-tuning, (b)); every layer retrained (full fine-tuning, what the code's approach 1
ran). The transferred models start from the source run's orbax checkpoint of the same seed
(`config.transfer.checkpoint_dir`, engine/pretrained.py) and train only what
`config.transfer.freeze` leaves (engine/freezing.py); the head is freshly initialized in all
four. Every approach at a size gets the same number of steps (the document's Adam, 1e-3, batch
32); a size's subset is class-balanced and the same for every seed and approach, so the spread
between seeds comes from initialization, data order and the source model. Test accuracy is on
MNIST's test images of digits 5-9. A gap between two approaches counts when it exceeds both a
floor and two standard errors of the seed-paired difference (`config.verdict`).

With `--config.transfer.keras_weights=PATH` (a Keras VGG19 weights file, e.g.
vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5), the document's own setup runs instead:
VGG19's convolutions from the file with one new Dense(10) on top (`config.keras`), all of MNIST
resized to 32x32 and stacked to 3 channels, scaled to [0, 1] as the document does (no
`preprocess_input`), 10 epochs; frozen = all of VGG19, partial = its first 10 conv layers
(the question's), with the categorical cross-entropy the document meant (its binary
cross-entropy on softmax outputs is a bug, `answer_keys`).
"""

import math
import os
from typing import NamedTuple

import jax
import ml_collections
import numpy as np

from data.datasets import Dataset
from engine import base_config, files, loop, report, sweep
from engine import plan as plan_lib
from engine import records as rs
from engine import run as run_lib
from engine import verdict as v
from engine.errors import UserError

NAME = 'transfer'
VARIANTS = ('quick',)
APPROACHES = ('scratch', 'frozen', 'partial', 'full')
DESCRIBE = {
  'scratch': 'from scratch',
  'frozen': 'frozen feature extractor + new head',
  'partial': 'partial fine-tune (first block(s) frozen)',
  'full': 'full fine-tune',
}
ALL = 0  # a target size of 0: every training image of the target classes
OUTCOME = {1: '{a} better', 0: 'a tie within the noise', -1: '{b} better'}


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
  c = base_config.get_config()
  c.dataset.update(dict(name='mnist', validation_size=5000, allow_standin=True))
  c.task = ml_collections.ConfigDict(
    dict(source_classes=(0, 1, 2, 3, 4), target_classes=(5, 6, 7, 8, 9), subset_seed=0)
  )
  c.model = ml_collections.ConfigDict(
    dict(
      name='cnn',
      conv_features=(16, 32),
      dense=(128,),
      num_classes=5,
      dropout_after_dense=False,
      dropout_rate=0.0,
    )
  )
  c.optimizer = ml_collections.ConfigDict(dict(name='adam', learning_rate=1e-3))  # the document's
  c.train.update(dict(batch_size=32, eval_train_size=1000, epochs=1))
  c.source = ml_collections.ConfigDict(dict(epochs=2))
  c.target = ml_collections.ConfigDict(
    dict(
      sizes=(100, 1000, ALL),
      approaches=APPROACHES,
      min_steps=300,  # every approach at a size trains max(this, one pass) steps
      epochs=1,
      frozen=('Conv_*',),  # the feature extractor: every conv block
      partial=('Conv_0',),  # partial fine-tuning: the first block
      head=('Dense_*',),  # the new head: freshly initialized in every approach
    )
  )
  c.transfer = base_config.transfer_config()
  # The document's own setup, run when --config.transfer.keras_weights names a VGG19 file.
  c.keras = ml_collections.ConfigDict(
    dict(
      model=dict(
        name='vgg',
        configuration='E',
        num_classes=10,
        hidden=4096,
        hidden_layers=0,  # include_top=False, Flatten, Dense(10)
        width_divisor=1,
        dropout_rate=0.0,
      ),
      classes=tuple(range(10)),
      image_size=32,
      epochs=10,
      frozen=('Conv_*',),  # vgg19.trainable = False
      partial=tuple(f'Conv_{i}' for i in range(10)),  # "freeze the first 10 layers"
      head=('Dense_*',),
    )
  )
  # Thresholds, declared before the run. Seed-paired differences of test accuracy; a gap counts
  # when it exceeds two standard errors of the paired difference over seeds (the measured seed
  # noise) and 0.005 (about 25 of the ~4,900 test digits 5-9, twice the binomial standard error
  # of one model's accuracy near 0.98), so a difference inside either noise is a tie.
  c.verdict = ml_collections.ConfigDict(dict(min_seeds=3, z=2.0, min_gap=0.005))
  c.seeds = 3
  if variant == 'quick':
    c.dataset.update(dict(validation_size=300, train_subset=2000, test_subset=600))
    c.model.update(dict(conv_features=(4, 8), dense=(16,)))
    c.train.update(dict(eval_train_size=200, eval_batch_size=300))
    c.source.epochs = 1
    c.target.update(dict(sizes=(100, ALL), min_steps=3))  # one pass each: shared programs
    c.seeds = 1
  return c


def validate(config) -> None:
  unknown = [a for a in config.target.approaches if a not in APPROACHES]
  if unknown or not config.target.approaches:
    raise UserError(
      f'--config.target.approaches holds {", ".join(map(repr, unknown)) or "nothing"}; pick '
      f"from {', '.join(APPROACHES)}, e.g. \"('scratch','frozen')\"."
    )
  if config.transfer.freeze or config.transfer.keep_init:
    raise UserError(
      'This finding sets config.transfer.freeze and keep_init per approach; set the patterns '
      'with --config.target.frozen, --config.target.partial and --config.target.head (or '
      '--config.keras.* for the VGG19 setup) instead.'
    )
  if config.transfer.checkpoint_dir:
    raise UserError(
      'This finding trains its own source model and starts the target models from it; '
      '--config.transfer.checkpoint_dir is set by it, not by hand. Use '
      '--config.transfer.keras_weights for pretrained VGG19 weights.'
    )


# ------------------------------------------------------------------------------- the data


def _pick(x, y, classes):
  """The images of `classes`, labels renumbered 0..len(classes)-1 in the order given."""
  keep = np.isin(y, classes)
  lookup = np.full(max(10, max(classes) + 1), -1, np.int32)
  lookup[list(classes)] = np.arange(len(classes))
  return x[keep], lookup[y[keep]]


def _balanced(y, size, seed):
  """Sorted indices of `size` items, the same number per class (the rest to the first)."""
  rng = np.random.default_rng(seed)
  order = rng.permutation(len(y))
  classes = np.unique(y)
  per = [size // len(classes) + (i < size % len(classes)) for i in range(len(classes))]
  return np.sort(np.concatenate([order[y[order] == k][:n] for k, n in zip(classes, per)]))


def _images(x, size):
  """The document's input: resized (bilinear, as cv2.resize) and the gray stacked to 3 channels."""
  if not size:
    return x
  out = np.concatenate(
    [
      np.asarray(jax.image.resize(x[i : i + 5000], (len(x[i : i + 5000]), size, size, 1), 'linear'))
      for i in range(0, len(x), 5000)
    ]
  )
  return np.repeat(out, 3, axis=-1)


def task_data(full: Dataset, classes, *, size=ALL, seed=0, image_size=0) -> Dataset:
  """`full` restricted to `classes` (renumbered), its training split cut to `size` (0: all)."""
  train_x, train_y = _pick(full.train_x, full.train_y, classes)
  if size and size < len(train_y):
    idx = _balanced(train_y, size, seed)
    train_x, train_y = train_x[idx], train_y[idx]
  val_x, val_y = _pick(full.val_x, full.val_y, classes)
  test_x, test_y = _pick(full.test_x, full.test_y, classes)
  return Dataset(
    _images(train_x, image_size),
    train_y,
    _images(val_x, image_size),
    val_y,
    _images(test_x, image_size),
    test_y,
    num_classes=len(classes),
    name=f'{full.name} digits {",".join(map(str, classes))}',
    source=full.source,
    standin=full.standin,
    kind=f'images of {train_x.shape[1]}x{train_x.shape[2]}x{train_x.shape[3]}'
    if not image_size
    else f'images resized to {image_size}x{image_size}x3',
  )


# ------------------------------------------------------------------------------- training


def train_run(config, ds: Dataset, workdir: str) -> list:
  """Trains `config` on `ds` into `workdir` as engine/run.py lays a run out; finished groups kept.

  Its groups' checkpoints and result.json files are what `config.transfer.checkpoint_dir` of
  another run reads.
  """
  groups = sweep.groups(config, plan_lib.models_per_program(config))
  device_data = None
  records = []
  for g in groups:
    gdir = os.path.join(workdir, 'groups', g.name)
    done = os.path.join(gdir, 'result.json')
    if os.path.exists(done):
      result = files.read_json(done)
    else:
      if device_data is None:
        device_data = loop.put_on_device(
          ds, config.train.eval_train_size, config.train.eval_batch_size
        )
      plan = plan_lib.resolve(g, len(ds.train_y))
      recs = loop.train_group(g, plan, device_data, gdir, progress=False)
      result = {
        'records': recs,
        'points': [sweep.label(p) for p in g.points],
        'seeds': list(g.seeds),
      }
      files.write_json(done, result)
    records += result['records']
  return records


def setup(config) -> dict:
  """What the run trains (model, classes, epochs, patterns): the CNN's keys or the Keras ones."""
  if config.transfer.keras_weights:
    k = config.keras
    return dict(
      model=k.model,
      source_classes=None,
      target_classes=tuple(k.classes),
      image_size=k.image_size,
      epochs=k.epochs,
      frozen=tuple(k.frozen),
      partial=tuple(k.partial),
      head=tuple(k.head),
    )
  t = config.target
  return dict(
    model=config.model,
    source_classes=tuple(config.task.source_classes),
    target_classes=tuple(config.task.target_classes),
    image_size=0,
    epochs=t.epochs,
    frozen=tuple(t.frozen),
    partial=tuple(t.partial),
    head=tuple(t.head),
  )


def _run_config(config, s, *, epochs, passes, approach=None, source_dir=''):
  c = ml_collections.ConfigDict(config.to_dict())
  c.model = ml_collections.ConfigDict(dict(s['model']))
  c.train.epochs, c.train.passes_per_epoch = epochs, passes
  if approach is not None:
    c.transfer.keep_init = s['head']
    c.transfer.freeze = {'frozen': s['frozen'], 'partial': s['partial']}.get(approach, ())
    if approach == 'scratch':
      c.transfer.keras_weights, c.transfer.keep_init = '', ()
    elif not c.transfer.keras_weights:
      c.transfer.checkpoint_dir, c.transfer.point, c.transfer.seed = source_dir, 'base', -1
  return c


def passes_for(n: int, batch_size: int, epochs: int, min_steps: int) -> int:
  """Passes per epoch so that `epochs` epochs over `n` images take at least `min_steps` steps."""
  per_pass = n // batch_size
  if per_pass < 1:
    raise UserError(
      f'A target size of {n} images is smaller than one batch ({batch_size}); raise '
      '--config.target.sizes or lower --config.train.batch_size.'
    )
  return max(1, math.ceil(min_steps / (epochs * per_pass)))


def measure(config, workdir):
  s = setup(config)
  full = run_lib.load_dataset(config)
  records, source_records = [], []
  source_dir = os.path.join(workdir, 'source')
  approaches = tuple(config.target.approaches)
  if s['source_classes'] is not None and set(approaches) - {'scratch'}:
    src = task_data(full, s['source_classes'])
    sc = _run_config(config, s, epochs=config.source.epochs, passes=1)
    print(f'transfer: source model on {src.describe()}')
    source_records = train_run(sc, src, source_dir)
  described = {}
  for size in config.target.sizes:
    ds = task_data(
      full, s['target_classes'], size=size, seed=config.task.subset_seed, image_size=s['image_size']
    )
    described[size] = ds.describe()
    n = len(ds.train_y)
    passes = passes_for(n, config.train.batch_size, s['epochs'], config.target.min_steps)
    for approach in approaches:
      c = _run_config(
        config, s, epochs=s['epochs'], passes=passes, approach=approach, source_dir=source_dir
      )
      print(f'transfer: {approach} on {n} target images ({passes} passes per epoch)')
      for r in train_run(c, ds, os.path.join(workdir, 'target', f'{approach}-{size or "all"}')):
        r['point'] = {'target.approach': approach, 'target.size': size, 'target.n': n}
        r['label'] = f'{approach}, n={n}'
        records.append(r)
  return {
    'seeds': config.seeds,
    'records': records,
    'source_records': source_records,
    'train_seconds': sum(r['group_seconds'] for r in records + source_records),
    'dataset': {
      'name': full.name,
      'source': full.source,
      'standin': full.standin,
      'describe': '; '.join(f'target size {k or "all"}: {d}' for k, d in described.items()),
    },
  }


# ------------------------------------------------------------------------------- the verdict


class Gap(NamedTuple):
  """A seed-paired difference a - b of test accuracy."""

  mean: float
  se: float  # standard error of the mean difference over seeds (NaN for one seed)
  bar: float  # what the mean must exceed: max(floor, z * se)
  sign: int  # 1: a wins, -1: b wins, 0: a tie within the noise


def gap(a, b, z: float, floor: float) -> Gap:
  d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
  mean = float(np.mean(d))
  se = float(np.std(d, ddof=1) / math.sqrt(len(d))) if len(d) > 1 else float('nan')
  bar = max(floor, z * se) if np.isfinite(se) else floor
  return Gap(mean, se, bar, int(mean > bar) - int(mean < -bar))


def accuracies(records) -> dict:
  """`{(approach, size): per-seed test accuracy}`, seeds in the same order in every cell."""
  out = {}
  for r in sorted(records, key=lambda r: r['seed']):
    if not r['diverged']:
      key = (r['point']['target.approach'], r['point']['target.size'])
      out.setdefault(key, []).append(r['final']['test_accuracy'])
  return {k: np.asarray(x) for k, x in out.items()}


def _size_name(size, n=None):
  return f'all ({n:,})' if not size and n else ('all' if not size else f'{size:,}')


def verdict(results) -> v.Verdict:
  cfg = results['config']
  t = cfg['verdict']
  acc = accuracies(results['records'])
  sizes = list(cfg['target']['sizes'])
  ns = {r['point']['target.size']: r['point']['target.n'] for r in results['records']}
  approaches = [a for a in APPROACHES if any((a, n) in acc for n in sizes)]
  table = []
  for a in approaches:
    row = {'approach': DESCRIBE[a]}
    for size in sizes:
      row[f'n = {_size_name(size, ns.get(size))}'] = (
        rs.stats(acc[(a, size)]).format(4) if (a, size) in acc else '-'
      )
    table.append(row)
  test = f'paired gap > max({t["min_gap"]}, {t["z"]} x its standard error over seeds)'

  def compare(a, b, size):
    if (a, size) not in acc or (b, size) not in acc:
      return None, 'not measured'
    g = gap(acc[(a, size)], acc[(b, size)], t['z'], t['min_gap'])
    text = (
      f'{DESCRIBE[a]} {rs.stats(acc[(a, size)]).format(4)} vs {DESCRIBE[b]} '
      f'{rs.stats(acc[(b, size)]).format(4)}: gap {g.mean:+.4f} (bar {g.bar:.4f}; '
      f'{OUTCOME[g.sign].format(a=DESCRIBE[a], b=DESCRIBE[b])})'
    )
    return g, text

  answer = '"the first approach ... allows us to continue training the weights"'
  by_size = sorted(sizes, key=lambda n: n or math.inf)
  smallest, largest = by_size[0], by_size[-1]
  claims = []
  for a, what, primary in (
    ('partial', 'retraining all but the first layers (b, as asked)', True),
    ('full', 'retraining every layer (approach 1 as the code ran it)', True),
  ):
    for size in [largest] + [s for s in sizes if s != largest]:
      g, text = compare(a, 'frozen', size)
      main = primary and size == largest
      claims.append(
        v.test(
          '003 P9',
          f'{what} beats the frozen extractor, n = {_size_name(size, ns.get(size))}',
          document=answer if main else f'{answer} (said of any amount of data)',
          measured=text,
          threshold=test,
          passed=None if g is None else g.sign > 0,
          value=None if g is None else g.mean,
          primary=main,
        )
      )
  gains = {}
  for size in sizes:
    best = [
      gap(acc[(a, size)], acc[('scratch', size)], t['z'], t['min_gap'])
      for a in ('frozen', 'partial', 'full')
      if (a, size) in acc and ('scratch', size) in acc
    ]
    if best:
      gains[size] = max(best, key=lambda g: g.mean)
  g = gains.get(smallest)
  claims.append(
    v.Check(
      f'the source model transfers: the best transferred approach beats scratch at '
      f'n = {_size_name(smallest)}',
      test,
      'not measured' if g is None else f'gain {g.mean:+.4f} (bar {g.bar:.4f})',
      None if g is None else g.sign > 0,
      value=None if g is None else g.mean,
    )
  )
  if smallest in gains and largest in gains and smallest != largest:
    a, b = gains[smallest].mean, gains[largest].mean
    claims.append(
      v.Check(
        'the gain of transfer over scratch shrinks as the target data grows',
        f'gain at n = {_size_name(smallest)} > gain at n = {_size_name(largest)}',
        f'{a:+.4f} at n = {_size_name(smallest)}, {b:+.4f} at n = '
        f'{_size_name(largest, ns.get(largest))}',
        a > b,
        value=a - b,
        primary=False,
      )
    )
  return v.of_run(
    results,
    claims,
    table,
    min_seeds=t['min_seeds'],
    diverged=sum(r['diverged'] for r in results['records']),
  )


def plot(results, workdir) -> list[str]:
  """Test accuracy against the number of target images (log scale), one line per approach."""
  import matplotlib.pyplot as plt

  acc = accuracies(results['records'])
  sizes = list(results['config']['target']['sizes'])
  ns = {r['point']['target.size']: r['point']['target.n'] for r in results['records']}
  fig, ax = plt.subplots(figsize=(6.5, 4.2))
  for a in APPROACHES:
    xs = [s for s in sizes if (a, s) in acc]
    if not xs:
      continue
    stats = [rs.stats(acc[(a, s)]) for s in xs]
    ax.errorbar(
      [ns[s] for s in xs],
      [st.mean for st in stats],
      yerr=[st.std for st in stats],
      marker='o',
      capsize=3,
      label=DESCRIBE[a],
    )
  ax.set(
    xscale='log',
    xlabel='target training images',
    ylabel='test accuracy (mean ± std over seeds)',
    title='Transfer: approach x amount of target data',
  )
  ax.grid(alpha=0.3)
  ax.legend(fontsize=8)
  return [report.save_figure(fig, os.path.join(workdir, 'transfer.png'))]
