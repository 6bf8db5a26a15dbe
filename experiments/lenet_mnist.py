"""LeNet on MNIST: the Caffe LeNet and LeNet-5 both beat the assignment's 0.976 test accuracy.

Seeds: the LeNet assignment, parts 4-6 (train Caffe's LeNet on MNIST: test accuracy 0.976 after
5000 iterations; the confusion matrix and its most-confused pairs, 7 read as 2 and 9 read as 7;
the feature maps of one test image; classify your own handwriting) and exam problem 6 (LeNet-5).

Models (nets/lenet.py): the Caffe LeNet (conv 20@5x5, pool, conv 50@5x5, pool, 500 ReLU, 10;
431,080 parameters) and LeNet-5 of 1998 (32x32 input, scaled tanh, trainable subsampling, the
C3 connection table; 60,850 parameters with a dense output). Trained with Caffe's LeNet solver
numbers (SGD, learning rate 0.01, momentum 0.9, batch 64; no weight decay or "inv" decay), each
model alone in its program on CPU.

After training, the models are restored from their orbax checkpoints to compute the confusion
matrix over the test images (PNG + CSV per model, summed over seeds), name the most-confused
pairs, and draw the Caffe LeNet's feature maps after its second and third layers (counting the
input as the first, as Caffe's blob list does: conv1 and pool1, 20 maps each, in a 4x5 grid).

Your own images, after a run (PNG/JPEG of a digit, any size, dark on light or light on dark):

    python -m experiments.lenet_mnist --workdir=runs/lenet_mnist my_digit.png another.jpg
"""

import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from engine import base_config, checkpoints, files, loop, report, run, sweep
from engine import records as rs
from engine import verdict as v

NAME = 'lenet_mnist'
VARIANTS = ('quick',)
ASSIGNMENT_ACCURACY = 0.976
ASSIGNMENT_PAIRS = ((7, 2), (9, 7))  # (true digit, read as)
MODEL = 'model.name'


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
  c = base_config.get_config()
  c.model = ml_collections.ConfigDict(
    dict(name='caffe_lenet', num_classes=10, kernel_init='glorot_uniform', dropout_rate=0.0)
  )
  c.optimizer = ml_collections.ConfigDict(dict(name='sgd', learning_rate=0.01, momentum=0.9))
  c.train.update(dict(epochs=2, batch_size=64))
  c.sweep.model = ml_collections.ConfigDict(dict(name=('caffe_lenet', 'lenet5')))
  c.seeds = 2
  c.analysis = ml_collections.ConfigDict(
    dict(
      feature_model='caffe_lenet',
      feature_layers=('conv1', 'pool1'),
      feature_image=0,
      grid=(4, 5),
      top_pairs=2,
      eval_batch_size=1000,
    )
  )
  c.verdict = ml_collections.ConfigDict(dict(min_seeds=2, accuracy=ASSIGNMENT_ACCURACY))
  if variant == 'quick':
    c.dataset.update(dict(validation_size=500, train_subset=3000, test_subset=1000))
    c.train.update(dict(epochs=1, eval_train_size=1000, eval_batch_size=500))
    c.seeds = 1
  return c


def validate(config):
  from engine.errors import UserError

  names = (
    config.sweep.model.name if 'name' in config.sweep.get('model', {}) else (config.model.name,)
  )
  if config.analysis.feature_model not in names:
    raise UserError(
      f'--config.analysis.feature_model={config.analysis.feature_model!r} is not '
      f'trained by this run (models: {", ".join(names)}).'
    )


def _models(results):
  """{model name: [(record, group dir, index in its group)]} over every trained seed, by name."""
  records = results['records']
  members = [(r, r['group'], i) for r, i in zip(records, rs.group_indices(records))]
  return rs.group_by(members, lambda m: m[0]['point'][MODEL], include_diverged=True)


def model_for(config, name):
  point = {MODEL: name} if name != config.model.name else {}
  return loop.build_model(sweep.apply_point(config, point).model)


def predict(model, variables, images, batch_size):
  apply = jax.jit(lambda x: model.apply(variables, x, train=False))
  return np.concatenate(
    [
      np.asarray(apply(jnp.asarray(images[i : i + batch_size])))
      for i in range(0, len(images), batch_size)
    ]
  )


def confusion(labels, predictions, classes=10):
  m = np.zeros((classes, classes), np.int64)
  np.add.at(m, (labels, predictions), 1)
  return m


def most_confused(matrix, k):
  """The k largest off-diagonal cells as (true, predicted, count), largest first."""
  off = np.array(matrix, np.int64)
  np.fill_diagonal(off, -1)
  order = np.argsort(-off, axis=None, kind='stable')[:k]
  return [(int(i), int(j), int(off[i, j])) for i, j in zip(*np.unravel_index(order, off.shape))]


def analyze(results, workdir):
  """Restores every trained model: confusion matrices, most-confused pairs, feature maps."""
  config = ml_collections.ConfigDict(results['config'])
  a = config.analysis
  dataset = run.load_dataset(config)
  out = {'confusion': {}, 'pairs': {}, 'checkpoint_accuracy': {}}
  for name, members in _models(results).items():
    model = model_for(config, name)
    total, accs = 0, []
    for _record, group, index in members:
      variables = checkpoints.restore_variables(
        os.path.join(workdir, 'groups', group, 'checkpoints'), index
      )
      pred = predict(model, variables, dataset.test_x, a.eval_batch_size).argmax(-1)
      total = total + confusion(dataset.test_y, pred)
      accs.append(float((pred == dataset.test_y).mean()))
      if name == a.feature_model and 'feature_maps' not in out:
        out['feature_maps'] = _feature_maps(model, variables, dataset, a)
    out['confusion'][name] = total.tolist()
    out['pairs'][name] = most_confused(total, a.top_pairs)
    out['checkpoint_accuracy'][name] = accs
  return out


def _feature_maps(model, variables, dataset, a):
  x = dataset.test_x[a.feature_image : a.feature_image + 1]
  _, state = model.apply(variables, jnp.asarray(x), train=False, mutable=['intermediates'])
  maps = {k: np.asarray(state['intermediates'][k][0][0]) for k in a.feature_layers}
  return {
    'image': x[0, :, :, 0].tolist(),
    'label': int(dataset.test_y[a.feature_image]),
    'layers': {k: m.tolist() for k, m in maps.items()},
  }


def verdict(results) -> v.Verdict:
  cfg = ml_collections.ConfigDict(results['config']['verdict'])
  records = results['records']
  test = rs.by_point(records, MODEL, 'test_accuracy')
  analysis = results.get('analysis', {})
  names = list(results['config']['sweep']['model']['name'])
  checks, table = [], []
  for name in names:
    accs = test.get(name, np.array([]))
    low = float(accs.min()) if len(accs) else None
    checks.append(
      v.Check(
        claim=f"{name} beats the assignment's test accuracy {ASSIGNMENT_ACCURACY} "
        '(5000 iterations)',
        threshold=f'lowest seed > {cfg.accuracy}',
        measured='n/a' if low is None else f'lowest {low:.4f}, mean {accs.mean():.4f}',
        passed=None if low is None else low > cfg.accuracy,
        value=low,
      )
    )
    pairs = analysis.get('pairs', {}).get(name, [])
    table.append(
      {
        'model': name,
        'test acc (mean ± std)': '-' if not len(accs) else rs.stats(accs).format(4),
        'spread': '-' if not len(accs) else f'{rs.spread(accs):.4f}',
        'assignment': ASSIGNMENT_ACCURACY,
        'most confused (true -> read as: count)': ', '.join(f'{t} -> {p}: {n}' for t, p, n in pairs)
        or '-',
        "assignment's pairs": ', '.join(f'{t} -> {p}' for t, p in ASSIGNMENT_PAIRS),
        'seeds': len(accs),
      }
    )
  return v.of_run(
    results, checks, table, min_seeds=cfg.min_seeds, diverged=sum(r['diverged'] for r in records)
  )


def plot(results, workdir) -> list[str]:
  """Confusion matrices (PNG + CSV per model) and the feature-map grids."""
  import matplotlib.pyplot as plt

  analysis = results.get('analysis', {})
  paths = []
  for name, matrix in analysis.get('confusion', {}).items():
    matrix = np.asarray(matrix)
    csv_path = os.path.join(workdir, f'confusion_{name}.csv')
    files.write_csv(
      csv_path,
      ['true \\ predicted'] + list(range(matrix.shape[1])),
      [[i] + row for i, row in enumerate(matrix.tolist())],
    )
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    off = matrix.astype(float)
    np.fill_diagonal(off, np.nan)
    im = ax.imshow(off, cmap='Reds')
    for (i, j), n in np.ndenumerate(matrix):
      ax.text(
        j, i, str(n), ha='center', va='center', fontsize=7, color='tab:blue' if i == j else 'black'
      )
    fig.colorbar(im, ax=ax, label='errors (diagonal: correct, not coloured)')
    ax.set(
      xticks=range(10),
      yticks=range(10),
      xlabel='predicted',
      ylabel='true digit',
      title=f'{name}: confusion over {matrix.sum():,} test predictions '
      f'({len(analysis["checkpoint_accuracy"][name])} seed(s))',
    )
    paths.append(report.save_figure(fig, os.path.join(workdir, f'confusion_{name}.png')))
  maps = analysis.get('feature_maps')
  if maps:
    rows, cols = results['config']['analysis']['grid']
    for layer, fm in maps['layers'].items():
      fm = np.asarray(fm)
      fig = plt.figure(figsize=(2.2 + 1.6 * cols, 1.6 * rows))
      grid = fig.add_gridspec(rows, cols + 1, width_ratios=[1.4] + [1] * cols)
      ax = fig.add_subplot(grid[:, 0])
      ax.imshow(maps['image'], cmap='gray')
      ax.set(xticks=[], yticks=[], title=f'input (a {maps["label"]})')
      for k in range(min(rows * cols, fm.shape[-1])):
        ax = fig.add_subplot(grid[k // cols, 1 + k % cols])
        ax.imshow(fm[:, :, k], cmap='gray')
        ax.set(xticks=[], yticks=[])
        ax.set_title(f'{layer} #{k}', fontsize=7)
      fig.suptitle(
        f'{results["config"]["analysis"]["feature_model"]}: {layer} '
        f'({fm.shape[0]}x{fm.shape[1]}x{fm.shape[2]})'
      )
      paths.append(report.save_figure(fig, os.path.join(workdir, f'feature_maps_{layer}.png')))
  return paths


def classify(paths, workdir, model_name=None, top=2):
  """Top-`top` classes with probabilities for each image file, from the run in `workdir`.

  The model is the first seed of `model_name` (default: the first by name), restored from
  its checkpoint. Returns [(path, [(digit, probability), ...] or an error message)].
  """
  import data
  from data import own_images

  results_path = os.path.join(workdir, 'results.json')
  if not os.path.exists(results_path):
    raise data.DataError(
      f'{workdir} holds no finished run (no results.json). Train first: '
      'python launch.py --experiment=lenet_mnist'
    )
  results = files.read_json(results_path)
  config = ml_collections.ConfigDict(results['config'])
  members = _models(results)
  model_name = model_name or next(iter(members))
  if model_name not in members:
    raise data.DataError(f'{workdir} has no trained {model_name!r}; it has {", ".join(members)}.')
  _, group, index = members[model_name][0]
  variables = checkpoints.restore_variables(
    os.path.join(workdir, 'groups', group, 'checkpoints'), index
  )
  model = model_for(config, model_name)
  out = []
  for path in paths:
    try:
      x = own_images.load(path)
    except data.DataError as e:
      out.append((path, str(e)))
      continue
    probs = np.asarray(jax.nn.softmax(model.apply(variables, jnp.asarray(x[None]), train=False)))[0]
    best = np.argsort(-probs)[:top]
    out.append((path, [(int(d), float(probs[d])) for d in best]))
  return out


def main(argv):
  from absl import flags, logging

  logging.set_verbosity(logging.WARNING)
  paths = argv[1:]
  if not paths:
    raise SystemExit(
      'usage: python -m experiments.lenet_mnist [--workdir=DIR] [--model=NAME] IMAGE [IMAGE ...]'
    )
  import data

  try:
    answers = classify(paths, flags.FLAGS.workdir, flags.FLAGS.model or None)
  except data.DataError as e:
    raise SystemExit(f'error: {e}') from None
  failed = 0
  for path, answer in answers:
    if isinstance(answer, str):
      failed += 1
      print(answer)
    else:
      print(f'{path}: ' + ', '.join(f'{d} ({p:.1%})' for d, p in answer))
  return 1 if failed else 0


if __name__ == '__main__':
  from engine import cpu_setup

  cpu_setup.configure()
  from absl import app, flags

  flags.DEFINE_string('workdir', os.path.join('runs', NAME), 'The work dir of a finished run.')
  flags.DEFINE_string(
    'model', '', 'Which trained model classifies (default: the first, caffe_lenet).'
  )
  app.run(main)
