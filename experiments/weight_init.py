"""Weight init: zeros never breaks symmetry; zeros + ReLU never learns; sigmoid learns slowly.

Seed: the CS155-style problem set's TensorFlow Playground problems A and B, the midterm's
"weights initialized to zero", theory Q1.4. The playground's default network on its circle
problem: inputs (x1, x2), two hidden layers of 4 and 2 units, SGD with batch 10 on 250 training
points, evaluated on 250 test points. Here the output is a 2-way softmax with cross-entropy (the
playground uses one tanh unit and squared error) and biases start at zero.

The grid, init {zeros, ones, Glorot normal} x activation {relu, sigmoid, tanh}, trains each
(init, activation) as one program vmapped over the seeds. An epoch here is `passes_per_epoch`
passes over the data (the playground's "epochs"); metrics and the probe are recorded once per
epoch. The probe measures on the whole training set the gradient norm (all parameters; the
kernels alone), the largest |kernel| entry, and the symmetry measure: the largest difference
between the incoming weights (bias included) of two units of the same hidden layer. Why zeros
fail: with ReLU every hidden output is relu(0) = 0 and relu'(0) = 0, so every kernel gradient is
0 and only the output bias moves. With sigmoid, sigmoid(0) = 0.5 passes gradient, but every unit
of a layer gets the same gradient, so the units stay identical; the network is then one unit
per layer, a monotone function of one line w.x + b, and cannot beat the best straight line.
"""

import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from engine import base_config, loop, planar, report
from engine import records as rs
from engine import run as run_lib
from engine import verdict as v

NAME = 'weight_init'
VARIANTS = ('quick',)
INIT, ACT = 'model.kernel_init', 'model.activation'
RANDOM_INIT = 'glorot_normal'
CONSTANT_INITS = ('zeros', 'ones')
ASSIGNMENT = {
  'zeros+relu test error': 0.508,
  'sigmoid epochs to a clear drop': 500,
  'zeros+sigmoid epochs to learn': 3200,
}


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
      kernel_init=RANDOM_INIT,
      init_scale=1.0,
      batch_norm=False,
      dropout=False,
      dropout_rate=0.0,
    )
  )
  c.optimizer = ml_collections.ConfigDict(dict(name='sgd', learning_rate=0.03))
  c.train.update(
    dict(epochs=200, passes_per_epoch=20, batch_size=10, eval_batch_size=256, eval_train_size=0)
  )
  c.sweep.model = ml_collections.ConfigDict(
    dict(kernel_init=('zeros', 'ones', RANDOM_INIT), activation=('relu', 'sigmoid', 'tanh'))
  )
  c.seeds = 8
  c.sweep_max_models = 0
  c.verdict = ml_collections.ConfigDict(
    dict(
      min_seeds=5,
      drop_error=0.1,
      fast_error=0.02,
      fast_passes=400,
      slower_factor=3.0,
      learn_error=0.4,
      symmetry_tol=1e-6,
    )
  )
  if variant == 'quick':
    c.train.update(dict(epochs=4, passes_per_epoch=5))
    c.sweep.model.kernel_init = ('zeros', RANDOM_INIT)
    c.sweep.model.activation = ('relu', 'sigmoid')
    c.seeds = 2
  return c


def _hidden_layers(params, model):
  return [params[f'Dense_{i}'] for i in range(len(model.hidden))]


def symmetry(params, model):
  """max over hidden layers and rows r of (max_i W[r, i] - min_i W[r, i]), bias as a row.

  The largest difference between the incoming weights of any two units of one layer.
  """
  worst = jnp.zeros(())
  for layer in _hidden_layers(params, model):
    incoming = jnp.concatenate([layer['kernel'], layer['bias'][None]], 0)
    worst = jnp.maximum(worst, jnp.max(incoming.max(1) - incoming.min(1)))
  return worst


def probe(model, state, images, labels):
  """Full-training-set gradient norms, the largest |kernel| and the symmetry measure."""

  def loss(params):
    logits = model.apply({'params': params}, images, train=False)
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

  grads = jax.grad(loss)(state.params)
  kernels = lambda tree: [
    leaf for path, leaf in jax.tree_util.tree_leaves_with_path(tree) if path[-1].key == 'kernel'
  ]
  return {
    'grad_norm': optax.tree.norm(grads),
    'kernel_grad_norm': optax.tree.norm(kernels(grads)),
    'kernel_max_abs': jnp.max(jnp.stack([jnp.max(jnp.abs(k)) for k in kernels(state.params)])),
    'symmetry': symmetry(state.params, model),
  }


def _passes(results):
  return results['config']['train']['passes_per_epoch']


def _curves(records, metric):
  """{(init, activation): array (seeds, epochs)} of a history metric, diverged models included."""
  return rs.by_point(records, (INIT, ACT), lambda r: r['history'][metric], include_diverged=True)


def passes_to(error_curves, threshold, passes):
  """Per seed, the passes until test error first <= threshold (inf if never)."""
  hit = error_curves <= threshold
  first = np.where(hit.any(1), hit.argmax(1) + 1, 0) * passes
  return np.where(hit.any(1), first, np.inf)


def _test_set(config):
  ds = run_lib.load_dataset(ml_collections.ConfigDict(config))
  return ds.test_x, ds.test_y


def _fmt_passes(values):
  finite = values[np.isfinite(values)]
  return (
    f'median {np.median(values):.0f}' if np.isfinite(np.median(values)) else 'median never'
  ) + f' ({len(finite)}/{len(values)} seeds reached)'


def verdict(results) -> v.Verdict:
  config = results['config']
  cfg = ml_collections.ConfigDict(config['verdict'])
  records = results['records']
  passes = _passes(results)
  total = passes * config['train']['epochs']
  err = {k: 1 - a for k, a in _curves(records, 'test_accuracy').items()}
  sym = _curves(records, 'symmetry')
  kgrad = _curves(records, 'kernel_grad_norm')
  kmax = _curves(records, 'kernel_max_abs')
  test_x, test_y = _test_set(config)
  chance = max(test_y.mean(), 1 - test_y.mean())
  line = planar.best_line_accuracy(test_x, test_y)
  inits = sorted({k[0] for k in err})
  acts = sorted({k[1] for k in err})
  checks = []

  key = ('zeros', 'relu')
  if key in err:
    ok_grad = bool(np.all(kgrad[key] == 0) and np.all(kmax[key] == 0))
    ok_chance = bool(np.all(1 - err[key] <= chance + 1e-9))
    checks.append(
      v.Check(
        claim='zeros + ReLU never learns: every kernel gradient is exactly 0 and test error '
        f'stays at chance (assignment: {ASSIGNMENT["zeros+relu test error"]})',
        threshold=f'kernel gradient norm == 0 at every epoch, kernels still exactly 0 after '
        f'{total} passes; test accuracy <= majority class ({chance:.3f}) throughout',
        measured=f'max kernel grad norm {np.nanmax(kgrad[key]):.3g}, max |kernel| '
        f'{np.nanmax(kmax[key]):.3g}; final test error '
        f'{err[key][:, -1].mean():.3f} (min {err[key].min():.3f})',
        passed=ok_grad and ok_chance,
        value=float(err[key][:, -1].mean()),
      )
    )
  else:
    checks.append(
      v.Check('zeros + ReLU never learns', 'needs the (zeros, relu) point', 'not in the grid', None)
    )

  key = (RANDOM_INIT, 'relu')
  relu_drop = None
  if key in err:
    fast = passes_to(err[key], cfg.fast_error, passes)
    relu_drop = passes_to(err[key], cfg.drop_error, passes)
    checks.append(
      v.Check(
        claim=f'random ({RANDOM_INIT}) + ReLU learns fast (assignment: test error ~0.01 quickly)',
        threshold=f'median passes to test error <= {cfg.fast_error} is <= {cfg.fast_passes}',
        measured=_fmt_passes(fast),
        passed=bool(np.median(fast) <= cfg.fast_passes),
        value=float(np.median(fast)),
      )
    )
  else:
    checks.append(v.Check('random + ReLU learns fast', 'needs the point', 'not in grid', None))

  key = (RANDOM_INIT, 'sigmoid')
  if key in err and relu_drop is not None:
    sig = passes_to(err[key], cfg.drop_error, passes)
    ratio = np.median(sig) / np.median(relu_drop) if np.isfinite(np.median(relu_drop)) else None
    checks.append(
      v.Check(
        claim='sigmoid learns far more slowly than ReLU from random init (assignment: '
        f'~{ASSIGNMENT["sigmoid epochs to a clear drop"]} epochs before a clear drop)',
        threshold=f'median passes to test error <= {cfg.drop_error}: sigmoid >= '
        f'{cfg.slower_factor:g} x ReLU',
        measured=f'sigmoid {_fmt_passes(sig)}; ReLU {_fmt_passes(relu_drop)}; ratio '
        + ('n/a' if ratio is None else f'{ratio:.1f}'),
        passed=None if ratio is None else bool(ratio >= cfg.slower_factor),
        value=None if ratio is None else float(ratio),
      )
    )
  else:
    checks.append(
      v.Check('sigmoid slower than ReLU', 'needs both random points', 'not in grid', None)
    )

  key, rand = ('zeros', 'sigmoid'), (RANDOM_INIT, 'sigmoid')
  if key in err and rand in err:
    slow = passes_to(err[key], cfg.learn_error, passes)
    ref = np.median(passes_to(err[rand], cfg.learn_error, passes))
    best_acc = (1 - err[key]).max(1)
    symmetric = bool(np.nanmax(sym[key]) <= cfg.symmetry_tol)
    learned = bool(np.all(np.isfinite(slow)) and np.median(slow) >= cfg.slower_factor * ref)
    linear = bool(np.all(best_acc <= line + 1e-9))
    checks.append(
      v.Check(
        claim='zeros + sigmoid does learn, slowly, but its hidden units stay identical and its '
        'boundary is a line (assignment: learns in '
        f'~{ASSIGNMENT["zeros+sigmoid epochs to learn"]} epochs)',
        threshold=f'every seed reaches test error <= {cfg.learn_error}, median passes >= '
        f"{cfg.slower_factor:g} x random sigmoid's; symmetry <= {cfg.symmetry_tol:g} "
        'at every epoch; test accuracy never above the best line on the test set '
        f'({line:.3f})',
        measured=f'{_fmt_passes(slow)} (random sigmoid: median {ref:.0f}); symmetry max '
        f'{np.nanmax(sym[key]):.3g}; best test accuracy {best_acc.max():.3f}',
        passed=symmetric and learned and linear,
        value=float(np.median(slow)),
      )
    )
  else:
    checks.append(v.Check('zeros + sigmoid symmetric', 'needs the point', 'not in grid', None))

  const = [k for k in sym if k[0] in CONSTANT_INITS and k[0] != 'zeros']
  if const:
    worst = max(np.nanmax(sym[k]) for k in const)
    best_acc = max((1 - err[k]).max() for k in const)
    checks.append(
      v.Check(
        claim='a constant non-zero init (ones) keeps the same symmetry, for every activation',
        threshold=f'symmetry <= {cfg.symmetry_tol:g} at every epoch; test accuracy never above '
        f'the best line ({line:.3f})',
        measured=f'symmetry max {worst:.3g}; best test accuracy {best_acc:.3f}',
        passed=bool(worst <= cfg.symmetry_tol and best_acc <= line + 1e-9),
        value=float(worst),
      )
    )
  else:
    checks.append(v.Check('constant init symmetric', 'needs the ones init', 'not in grid', None))

  table = []
  for init in inits:
    for act in acts:
      k = (init, act)
      if k not in err:
        continue
      e = err[k][:, -1]
      table.append(
        {
          'init': init,
          'activation': act,
          'final test error (mean ± std)': rs.stats(e).format(3),
          'min / max over seeds': f'{e.min():.3f} / {e.max():.3f}',
          f'passes to error <= {cfg.drop_error}': _fmt_passes(
            passes_to(err[k], cfg.drop_error, passes)
          ),
          'symmetry (max)': f'{np.nanmax(sym[k]):.3g}',
          'kernel grad norm (last)': f'{np.nanmean(kgrad[k][:, -1]):.3g}',
          'seeds': len(e),
        }
      )
  return v.of_run(
    results, checks, table, min_seeds=cfg.min_seeds, diverged=sum(r['diverged'] for r in records)
  )


def plot(results, workdir) -> list[str]:
  config = results['config']
  records = results['records']
  passes = _passes(results)
  err = {k: 1 - a for k, a in _curves(records, 'test_accuracy').items()}
  inits = [i for i in config['sweep']['model']['kernel_init'] if any(k[0] == i for k in err)]
  acts = [a for a in config['sweep']['model']['activation'] if any(k[1] == a for k in err)]
  test_x, test_y = _test_set(config)
  index = rs.group_indices(records)
  panels = {}
  for r, j in zip(records, index):
    key = (r['point'][INIT], r['point'][ACT])
    if key in panels or r['diverged']:
      continue
    model_config = ml_collections.ConfigDict(config['model'])
    model_config.update({INIT.split('.')[1]: key[0], ACT.split('.')[1]: key[1]})
    variables = planar.trained_variables(workdir, r, j)
    caption = f'seed {r["seed"]}: test error {1 - r["final"]["test_accuracy"]:.3f}'
    panels[key] = (loop.build_model(model_config), variables, test_x, test_y, caption)
  total = passes * config['train']['epochs']
  paths = [
    planar.boundary_grid(
      os.path.join(workdir, 'decision_boundaries.png'),
      panels,
      rows=inits,
      cols=acts,
      title=f'{config["dataset"]["name"]}: P(class 1) after {total} passes, with the test points '
      '(rows: init, columns: activation)',
    )
  ]

  fig, axes = report.plt.subplots(
    1, len(inits), figsize=(4.2 * len(inits), 3.6), squeeze=False, sharey=True
  )
  for ax, init in zip(axes[0], inits):
    for act in acts:
      if (init, act) not in err:
        continue
      e = err[(init, act)]
      x = passes * np.arange(1, e.shape[1] + 1)
      (line,) = ax.plot(x, np.nanmean(e, 0), label=act)
      ax.fill_between(x, np.nanmin(e, 0), np.nanmax(e, 0), alpha=0.2, color=line.get_color())
    ax.set(title=f'init {init}', xlabel='passes over the training set (log)', xscale='log')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
  axes[0, 0].set_ylabel('test error (mean; band = seed min-max)')
  fig.tight_layout()
  paths.append(report.save_figure(fig, os.path.join(workdir, 'test_error_curves.png')))
  return paths
