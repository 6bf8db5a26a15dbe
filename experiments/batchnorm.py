"""Batch normalization: fewer steps, larger rates, a rescued init, and what it does not do (MNIST).

Seed: the exam's problem 11 (`003 P11`), with the CS155-style problem set (problem G) and the
midterm behind the own checks. The exam's text numbers all five parts "1."; they are cited here
in order: P11.1 the four statements (a)-(d) with the student's True/False, P11.2 the forward
pass in numpy (its Figure 7), P11.3 the role of epsilon, P11.4 batch size 1, P11.5 the
parameters of Dense(20 -> 30) + BN. Each is a row; a True/False row HOLDS when the measurement
agrees with the student's answer and is DOCUMENT WRONG when it contradicts it.

Trained (3 seeds): an MLP of 8 hidden layers of 100 ReLU units (784 -> 100 x 8 -> 10), He-normal
init times `init_scale`, plain SGD at three learning rates, batch 64, with and without batch norm
after each hidden dense layer (the dense layer then drops its bias: BN's beta takes its place).
An epoch here is `train.steps_per_epoch` steps, so validation accuracy is measured every few
hundred steps and "steps to reach the target" has that resolution.

- with vs without BN at a healthy init (scale 1): steps to reach the validation target and the
  final test accuracy at each rate. The finding: BN is not slower at any rate, gets there in
  fewer steps at its best rate than the plain net at its own best, and still trains at the
  largest rate, where the plain net does not. (He init already keeps this plain net well scaled,
  so at a small rate the two can tie: BN's gain in steps comes mostly through the larger rates
  it tolerates.)
- rescue of a tiny init (scale 0.01): without BN the signal shrinks ~100x per layer and the net
  stalls at chance; with BN every layer is renormalized and it trains. The activation scale of
  each layer at init (the first training batch, train mode) shows why. The same runs answer
  (d), "BN ... allows the network to initialize our weights to smaller values close to zero",
  which the student marked False: true if at some rate every BN seed trains from the tiny init
  and no plain seed does.

Measured on the side (`analyze`), from the real modules and the engine's own step programs:

- (a) speed: the time of one training step with and without BN. BN adds work per step and
  saves steps, not time per step; the student's False holds if a BN step is slower.
- (b) "BN weakens the coupling between earlier/later layers", read as Santurkar et al. (2018)
  measure it: how much the gradient G of a layer's kernel changes (to G') when every earlier
  layer first takes its SGD step on the same batch; cos(G, G') near 1 = a later layer's
  learning does not depend on what the earlier ones just learnt. (c) "normalizes the output
  distribution to be more uniform across dimensions", read as: BN's output units on a more
  even scale than its input units (std across units of each unit's std, over their mean).
  Both on the final checkpoints of the trained nets at lr `analysis.coupling_lr` and the
  healthy init, every seed, and at init; a difference within the seed spread is INCONCLUSIVE.
- batch size 1: in training mode BN's output is (x - mean) / std * gamma + beta with mean = x, so
  every input maps to beta exactly and the net's output does not depend on its input. Trained
  at batch size 1, the weights before every BN get an exactly zero gradient and never move; the
  net learns nothing (the same steps at the usual batch size do learn).
- parameters of Dense(20 -> 30) + BN: 600 weights + 30 biases + 30 gamma + 30 beta trainable,
  30 + 30 running mean and variance not trainable. The exam's 660 is 600 + 30 + 30: the count
  for a dense layer without its bias (as here: a bias before BN is cancelled by the mean
  subtraction), or one that forgets gamma or beta; Keras' summary of Dense+BN says 690
  trainable and 750 in all.
- the exam's forward pass (nets/batch_norm.py holds its text) run as written: it normalizes
  `X`, which is not its argument `Z`, so it raises a NameError; with Z for X it is batch norm
  and agrees with flax.linen.BatchNorm on real pre-activations in training and test mode,
  running averages included (beta_avg = flax's momentum). The question's formula prints
  z_norm = (z - mu) / sigma + eps, epsilon outside the root (perhaps a conversion artefact):
  that normalizes ordinary features almost as flax does, but divides by zero on a feature of
  variance 0, exactly the case the student says epsilon is for (P11.3, checked with the
  corrected code at epsilon 0 and 1e-5). `nets.batch_norm.batch_norm`, the project's own
  written-out version, is held against flax as well.
"""

import functools
import os
import time
import typing

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

import nets
from engine import base_config, checkpoints, loop, parallel, plan, report, run, sweep
from engine import records as rs
from engine import verdict as v
from nets import activations
from nets.batch_norm import DOCUMENT_VERSIONS, batch_norm, document_forward

NAME = 'batchnorm'
VARIANTS = ('quick',)
BN, LR, SCALE = 'model.batch_norm', 'optimizer.learning_rate', 'model.init_scale'


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
  c = base_config.get_config()
  c.dataset.validation_size = 2000
  c.model = ml_collections.ConfigDict(
    dict(
      name='mlp',
      hidden=(100,) * 8,
      num_classes=10,
      activation='relu',
      kernel_init='he_normal',
      init_scale=1.0,
      batch_norm=False,
      dropout=False,
      dropout_rate=0.0,
    )
  )
  c.optimizer = ml_collections.ConfigDict(dict(name='sgd', learning_rate=0.1))
  c.train.update(dict(epochs=12, steps_per_epoch=200, batch_size=64, eval_train_size=1000))
  c.sweep.model = ml_collections.ConfigDict(dict(batch_norm=(False, True), init_scale=(1.0, 0.01)))
  c.sweep.optimizer = ml_collections.ConfigDict(dict(learning_rate=(0.01, 0.1, 1.0)))
  c.analysis = ml_collections.ConfigDict(
    dict(
      init_batch=512,
      batch_of_one_steps=500,
      batch_of_one_inputs=100,
      timing_steps=300,
      timing_repeats=5,
      dense_in=20,
      dense_out=30,
      # (b), (c): measured on the trained nets of this rate (it must be in the sweep) at the
      # healthy init, and at init; the SGD step of the coupling measure uses the same rate.
      coupling_lr=0.1,
      # The exam's code is run with flax's BatchNorm defaults, so that it can equal flax.
      document_eps=1e-5,
      document_beta_avg=0.99,
    )
  )
  c.verdict = ml_collections.ConfigDict(
    dict(
      min_seeds=3,
      target=0.95,
      stall_below=0.2,
      tiny_scale=0.01,
      shrink_at_least=1e3,
      bn_scale_band=(0.2, 5.0),
      reference_atol=1e-4,
    )
  )
  if variant == 'quick':
    c.dataset.update(dict(validation_size=500, train_subset=3000, test_subset=1000))
    c.model.hidden = (32,) * 8
    c.train.update(dict(epochs=3, steps_per_epoch=20, eval_batch_size=500, eval_train_size=500))
    c.sweep.optimizer.learning_rate = (0.1,)
    c.analysis.update(
      dict(
        init_batch=128,
        batch_of_one_steps=50,
        batch_of_one_inputs=10,
        timing_steps=20,
        timing_repeats=2,
      )
    )
    c.verdict.target = 0.5
    c.seeds = 1
  return c


# ----------------------------------------------------------------------------- trained runs


def steps_to_target(record, target: float, steps_per_epoch: int):
  """Steps until validation accuracy first reached `target` (epoch resolution), else None."""
  for e, acc in enumerate(record['history']['val_accuracy']):
    if acc is not None and acc >= target:
      return (e + 1) * steps_per_epoch
  return None


def _cells(results):
  """`{(init_scale, lr, batch_norm): [records over seeds]}`, diverged ones included."""
  return rs.group_by(results['records'], (SCALE, LR, BN), include_diverged=True)


def _steps(recs, cfg, k):
  """Per-seed steps to target, inf where never reached (or diverged)."""
  return np.array(
    [np.inf if (s := steps_to_target(r, cfg.target, k)) is None else s for r in recs], np.float64
  )


def _final(recs, metric):
  return np.array([np.nan if r['final'][metric] is None else r['final'][metric] for r in recs])


def _fmt_steps(x):
  return ', '.join('never' if not np.isfinite(s) else f'{s:.0f}' for s in x)


# ----------------------------------------------------------------------------- measured on the side


def analyze(results, workdir) -> dict:
  config = ml_collections.ConfigDict(results['config'])
  dataset = run.load_dataset(config)
  first = dataset.train_x[: config.analysis.init_batch]
  layer = first_layer(config, first)
  starts = {}  # each variant's initial states, built once
  return {
    'activation_scale': activation_scales(config, first, starts),
    'batch_of_one': batch_of_one(config, dataset),
    'step_seconds': step_times(config, dataset),
    'parameters': parameter_accounting(config.analysis.dense_in, config.analysis.dense_out),
    'reference': reference_agreement(config, first, layer),
    'document_code': document_code(config, first, layer),
    'coupling': layer_coupling(config, dataset, results, workdir, starts),
  }


def _variant(config, **model):
  """The config with one model variant, a single point and the first seed."""
  c = ml_collections.ConfigDict(config.to_dict())
  c.model.update(model)
  c.sweep = ml_collections.ConfigDict()
  c.seeds = 1
  return c


def _start(config, images, seeds=None):
  """Initial states of the config's single-point group, exactly as the loop starts them.

  On this process's first device: the analyses measure one device's modules, in every process.
  """
  c = ml_collections.ConfigDict(config.to_dict())
  if seeds:
    c.seeds = seeds
  [group] = sweep.groups(c)
  here = parallel.Layout(parallel.one_device_mesh(), c.seeds)
  return loop.start_group(group, plan.resolve(group, len(images), layout=here), images)


@functools.partial(jax.jit, static_argnums=0)
def _forward(model, variables, x):
  """Training-mode logits and every layer's output (BN with the batch's statistics)."""
  logits, state = model.apply(
    variables, x, train=True, mutable=['batch_stats', 'intermediates'], capture_intermediates=True
  )
  return logits, jax.tree.map(
    lambda t: t[0], state['intermediates'], is_leaf=lambda t: isinstance(t, tuple)
  )


@functools.partial(jax.jit, static_argnums=0)
def _hidden_scales(model, variables, x):
  """The std of each hidden layer's output after its activation, in training mode."""
  _, inter = _forward(model, variables, x)
  act = activations.get(model.activation)
  name = 'BatchNorm' if model.batch_norm else 'Dense'
  return jnp.stack(
    [jnp.std(act(inter[f'{name}_{i}']['__call__'])) for i in range(len(model.hidden))]
  )


def _seed_starts(config, x, bn: bool, scale: float, starts: dict | None):
  """(model, initial states of every seed) of one variant; kept in `starts` for reuse."""
  key = (bn, float(scale))
  if starts is not None and key in starts:
    return starts[key]
  c = _variant(config, batch_norm=bn, init_scale=float(scale))
  model, _, _, states, _ = _start(c, x[:1], seeds=config.seeds)
  if starts is not None:
    starts[key] = (model, states)
  return model, states


def activation_scales(config, x, starts: dict | None = None) -> dict:
  """`{'bn=..,scale=..': [std of each hidden layer's activations at init, mean over seeds]}`."""
  x = jnp.asarray(x)
  scales = sorted(
    set(config.sweep.model.get('init_scale', (config.model.init_scale,))), reverse=True
  )
  out = {}
  for scale in scales:
    for bn in (False, True):
      model, states = _seed_starts(config, x, bn, scale, starts)
      variables = {'params': states.params, **({'batch_stats': states.batch_stats} if bn else {})}
      per_seed = jax.vmap(functools.partial(_hidden_scales, model), in_axes=(0, None))(variables, x)
      out[f'bn={bn},scale={scale:g}'] = [float(s) for s in np.mean(per_seed, axis=0)]
  return out


def batch_of_one(config, dataset) -> dict:
  """BN in training mode at batch size 1: output == beta for every input, so nothing is learnt."""
  a = config.analysis
  c = _variant(config, batch_norm=True, init_scale=config.model.init_scale)
  images, labels = jnp.asarray(dataset.train_x), jnp.asarray(dataset.train_y)
  model, _, _, states, _ = _start(c, images)
  one = jax.tree.map(lambda t: t[0], states)
  variables = {'params': one.params, 'batch_stats': one.batch_stats}
  xs = images[: a.batch_of_one_inputs, None]  # each input a batch of its own
  logits, inter = jax.vmap(functools.partial(_forward, model), in_axes=(None, 0))(variables, xs)
  beta_gap = max(
    float(
      jnp.max(jnp.abs(inter[f'BatchNorm_{k}']['__call__'] - one.params[f'BatchNorm_{k}']['bias']))
    )
    for k in range(len(model.hidden))
  )
  identity = {
    'inputs': len(xs),
    'max_abs_bn_output_minus_beta': beta_gap,
    'max_abs_logit_difference_between_inputs': float(jnp.max(jnp.abs(logits - logits[0]))),
  }

  device = loop.put_on_device(dataset, c.train.eval_train_size, c.train.eval_batch_size)
  steps = min(a.batch_of_one_steps, len(labels) // c.train.batch_size)  # within one pass
  trained = {}
  for batch_size in (1, c.train.batch_size):
    cb = ml_collections.ConfigDict(c.to_dict())
    cb.train.batch_size = batch_size
    start = _start(cb, images)
    keys, states = start.keys, start.states
    group_steps, group_eval = start.programs.steps, start.programs.eval
    permutations = start.programs.permutations
    perms = permutations(keys, 0, len(labels), labels)
    start = jax.tree.map(lambda t: np.asarray(t[0]), states.params)
    states, _ = group_steps(states, _zero_sums(), perms, steps, 0, keys, images, labels)
    end = jax.tree.map(lambda t: t[0], states.params)
    moved = {
      '/'.join(str(getattr(p, 'key', p)) for p in path): float(jnp.max(jnp.abs(e - s)))
      for (path, s), e in zip(jax.tree_util.tree_flatten_with_path(start)[0], jax.tree.leaves(end))
    }
    trained[str(batch_size)] = {
      'steps': steps,
      'test_accuracy': _accuracy(group_eval, states, device['eval']['test']),
      'max_change_hidden_kernels': max(
        d
        for k, d in moved.items()
        if k.startswith('Dense')
        and k.endswith('kernel')
        and k.split('/')[0] != f'Dense_{len(model.hidden)}'
      ),
      'max_change_gamma': max(d for k, d in moved.items() if k.endswith('scale')),
      'max_change_beta': max(
        d for k, d in moved.items() if k.startswith('BatchNorm') and k.endswith('bias')
      ),
    }
  return {'identity': identity, 'trained': trained}


def _zero_sums():
  return {k: jnp.zeros((1,), jnp.float32) for k in ('loss_sum', 'correct', 'count')}


def _accuracy(group_eval, states, split) -> float:
  """Evaluation-mode accuracy (running averages) of a one-model group on a padded eval split."""
  sums = _zero_sums()
  for batch in zip(*split):
    sums = group_eval(states, sums, *batch)
  return float(sums['correct'][0] / sums['count'][0])


def step_times(config, dataset) -> dict:
  """Seconds per training step of one model, with and without BN, the engine's scanned program."""
  a = config.analysis
  images, labels = jnp.asarray(dataset.train_x), jnp.asarray(dataset.train_y)
  steps = min(a.timing_steps, len(labels) // config.train.batch_size)
  out = {}
  for bn in (False, True):
    c = _variant(config, batch_norm=bn, init_scale=config.model.init_scale)
    start = _start(c, images)
    keys, states = start.keys, start.states
    group_steps, permutations = start.programs.steps, start.programs.permutations
    perms = permutations(keys, 0, len(labels), labels)
    sums = _zero_sums()
    states, sums = group_steps(states, sums, perms, steps, 0, keys, images, labels)  # compile
    jax.block_until_ready(sums)
    best = []
    for _ in range(a.timing_repeats):
      t = time.perf_counter()
      states, sums = group_steps(states, sums, perms, steps, 0, keys, images, labels)
      jax.block_until_ready(sums)
      best.append((time.perf_counter() - t) / steps)
    out[str(bn)] = {
      'median': float(np.median(best)),
      'min': float(np.min(best)),
      'steps': steps,
      'repeats': a.timing_repeats,
    }
  return out


class _DenseBN(flax.linen.Module):
  """The exam's layer pair: Dense(out) then BatchNorm, with or without the dense bias."""

  features: int
  use_bias: bool

  @flax.linen.compact
  def __call__(self, x, train=False):
    x = flax.linen.Dense(self.features, use_bias=self.use_bias)(x)
    return flax.linen.BatchNorm(use_running_average=not train)(x)


def _count(tree) -> dict:
  return {
    '/'.join(str(getattr(p, 'key', p)) for p in path): int(np.prod(leaf.shape))
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]
  }


def parameter_accounting(n_in: int, n_out: int) -> dict:
  """Parameter counts of Dense(n_in -> n_out) + BN from flax, and of the same layer in nets.MLP."""
  x = jnp.zeros((2, n_in))
  out = {}
  for use_bias in (True, False):
    variables = jax.eval_shape(
      lambda use_bias=use_bias: _DenseBN(n_out, use_bias).init(jax.random.PRNGKey(0), x)
    )
    out['with dense bias' if use_bias else 'without dense bias'] = {
      'trainable': _count(variables['params']),
      'running_stats': _count(variables['batch_stats']),
    }
  mlp = nets.build('mlp', hidden=(n_out,), batch_norm=True)
  variables = jax.eval_shape(lambda: mlp.init(jax.random.PRNGKey(0), x, train=False))
  out['nets.MLP hidden layer'] = {
    'trainable': {
      k: n
      for k, n in _count(variables['params']).items()
      if k.startswith(('Dense_0', 'BatchNorm_0'))
    },
    'running_stats': _count(variables['batch_stats']),
  }
  return out


class _FirstLayer(typing.NamedTuple):
  """The first hidden layer of a BN net at init on real images, and flax's BatchNorm on it."""

  h: typing.Any  # the dense layer's output: BN's input
  gamma: typing.Any
  beta: typing.Any
  mean: typing.Any  # running averages before the step
  var: typing.Any
  train: typing.Any  # flax's training-mode output
  new_mean: typing.Any  # flax's running averages after the step
  new_var: typing.Any
  eval: typing.Any  # flax's evaluation-mode output with the new running averages


def first_layer(config, x) -> _FirstLayer:
  c = _variant(config, batch_norm=True, init_scale=config.model.init_scale)
  x = jnp.asarray(x)
  model, _, _, states, _ = _start(c, x[:1])
  one = jax.tree.map(lambda t: t[0], states)
  variables = {'params': one.params, 'batch_stats': one.batch_stats}
  _, inter = _forward(model, variables, x)
  h, y_flax = inter['Dense_0']['__call__'], inter['BatchNorm_0']['__call__']
  bn, stats = one.params['BatchNorm_0'], one.batch_stats['BatchNorm_0']
  _, new = flax.linen.BatchNorm(use_running_average=False).apply(
    {'params': bn, 'batch_stats': stats}, h, mutable=['batch_stats']
  )
  new = new['batch_stats']
  eval_flax = flax.linen.BatchNorm(use_running_average=True).apply(
    {'params': bn, 'batch_stats': new}, h
  )
  return _FirstLayer(
    h,
    bn['scale'],
    bn['bias'],
    stats['mean'],
    stats['var'],
    y_flax,
    new['mean'],
    new['var'],
    eval_flax,
  )


def _max_abs(a, b) -> float | None:
  """max |a - b|, None where either is not finite (JSON has no NaN)."""
  d = np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)))
  return float(d) if np.isfinite(d) else None


def reference_agreement(config, x, layer: _FirstLayer | None = None) -> dict:
  """Max |nets.batch_norm - flax BatchNorm| on the first layer's real pre-activations."""
  f = layer or first_layer(config, x)
  y, (mean, var) = batch_norm(f.h, f.gamma, f.beta, f.mean, f.var, train=True)
  y_eval, _ = batch_norm(f.h, f.gamma, f.beta, f.new_mean, f.new_var, train=False)
  return {
    'train_output': _max_abs(y, f.train),
    'running_mean': _max_abs(mean, f.new_mean),
    'running_var': _max_abs(var, f.new_var),
    'eval_output': _max_abs(y_eval, f.eval),
  }


def _call(fn, *args):
  """(output, None) or (None, 'NameError: ...'): the exam's code may fail as written."""
  try:
    with np.errstate(all='ignore'):
      return fn(*args), None
  except Exception as e:  # pylint: disable=broad-except
    return None, f'{type(e).__name__}: {e}'


def document_code(config, x, layer: _FirstLayer | None = None) -> dict:
  """Each version of the exam's numpy forward pass (nets/batch_norm.py) against flax.linen.BatchNorm
  on the first layer's real pre-activations, train then test mode, with flax's epsilon and
  momentum; and each on a batch whose first feature is constant (variance 0), the case epsilon
  is for, with epsilon as configured and 0."""
  a = config.analysis
  f = layer or first_layer(config, x)
  h = np.asarray(f.h, np.float64)
  gamma, beta = np.asarray(f.gamma, np.float64), np.asarray(f.beta, np.float64)
  flat = h.copy()
  flat[:, 0] = h[0, 0]

  def cache():
    return {'mu': np.asarray(f.mean, np.float64), 'var': np.asarray(f.var, np.float64)}

  out = {'eps': a.document_eps, 'beta_avg': a.document_beta_avg, 'versions': {}}
  for version in DOCUMENT_VERSIONS:
    fn = document_forward(version)
    c = cache()
    y_train, err_train = _call(fn, h, gamma, beta, a.document_eps, c, a.document_beta_avg, 'train')
    y_test, err_test = _call(fn, h, gamma, beta, a.document_eps, c, a.document_beta_avg, 'test')
    row = {'errors': {'train': err_train, 'test': err_test}}
    if err_train is None:
      row['train_output'] = _max_abs(y_train, f.train)
      row['running_mean'] = _max_abs(c['mu'], f.new_mean)
      row['running_var'] = _max_abs(c['var'], f.new_var)
    if err_test is None:
      row['eval_output'] = _max_abs(y_test, f.eval)
    for name, eps in (('constant_feature', a.document_eps), ('constant_feature_eps_0', 0.0)):
      y, err = _call(fn, flat, gamma, beta, eps, cache(), a.document_beta_avg, 'train')
      row[name] = None if err else bool(np.isfinite(y).all())
    out['versions'][version] = row
  return out


def _loss(model, variables, params, x, y):
  logits, _ = model.apply({**variables, 'params': params}, x, train=True, mutable=['batch_stats'])
  return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def _layer(name: str) -> int:
  return int(name.rsplit('_', 1)[1])


@functools.partial(jax.jit, static_argnums=0)
def gradient_coupling(model, variables, x, y, lr):
  """For each layer i >= 1 (hidden and output): the cosine and the relative difference between
  the gradient G of Dense_i's kernel and the gradient G' after every earlier layer has taken
  its SGD step on the same batch (Santurkar et al. 2018, "How does batch normalization help
  optimization?", their measure of internal covariate shift). cos 1: what the earlier layers
  learn does not change what layer i should learn."""
  grad = jax.grad(functools.partial(_loss, model, variables))
  params = variables['params']
  g = grad(params, x, y)

  def after_earlier_steps(i):
    """The gradient once every layer before layer i has taken its step."""
    step = {k: lr * (_layer(k) < i) for k in params}
    return grad(
      {k: jax.tree.map(lambda w, d, s=step[k]: w - s * d, p, g[k]) for k, p in params.items()},
      x,
      y,
    )

  later = range(1, len(model.hidden) + 1)
  moved = jax.vmap(after_earlier_steps)(jnp.arange(1, len(model.hidden) + 1))
  a = [g[f'Dense_{i}']['kernel'] for i in later]
  b = [moved[f'Dense_{i}']['kernel'][i - 1] for i in later]
  norm = jnp.linalg.norm
  cos = jnp.stack([jnp.vdot(p, q) / (norm(p) * norm(q)) for p, q in zip(a, b)])
  rel = jnp.stack([norm(p - q) / norm(p) for p, q in zip(a, b)])
  return cos, rel


@functools.partial(jax.jit, static_argnums=0)
def unit_spread(model, variables, x):
  """Per hidden layer, how unequal its units are: the std across units of each unit's std over
  the batch, over their mean (0: every dimension on the same scale); of the dense output and,
  with BN, of BN's output (training mode). NaN for BN's output in a plain net."""
  _, inter = _forward(model, variables, x)

  def spread(t):
    s = jnp.std(t, axis=0)
    return jnp.std(s) / jnp.mean(s)

  layers = range(len(model.hidden))
  dense = jnp.stack([spread(inter[f'Dense_{j}']['__call__']) for j in layers])
  if not model.batch_norm:
    return dense, jnp.full_like(dense, jnp.nan)
  return dense, jnp.stack([spread(inter[f'BatchNorm_{j}']['__call__']) for j in layers])


def _coupling_of(model, variables_per_seed, x, y, lr) -> dict:
  """Per seed, the layer means of the gradient coupling and of the unit spreads."""
  out = {'cos': [], 'rel': [], 'dense_spread': [], 'bn_spread': []}
  for variables in variables_per_seed:
    cos, rel = gradient_coupling(model, variables, x, y, lr)
    dense, normed = unit_spread(model, variables, x)
    out['cos'].append(float(jnp.mean(cos)))
    out['rel'].append(float(jnp.mean(rel)))
    out['dense_spread'].append(float(jnp.mean(dense)))
    out['bn_spread'].append(None if not model.batch_norm else float(jnp.mean(normed)))
  return out


def layer_coupling(config, dataset, results, workdir, starts: dict | None = None) -> dict:
  """The exam's claims (b) and (c) at the healthy init and on the trained nets of lr
  `analysis.coupling_lr` (their final checkpoints), with and without BN, every seed."""
  a = config.analysis
  x = jnp.asarray(dataset.train_x[: a.init_batch])
  y = jnp.asarray(dataset.train_y[: a.init_batch])
  scale = float(config.model.init_scale)
  records = results['records']
  index = rs.group_indices(records)
  out = {'lr': a.coupling_lr, 'init_scale': scale, 'batch': len(x)}
  for bn in (False, True):
    model, states = _seed_starts(config, x, bn, scale, starts)
    keep = ('params', 'batch_stats') if bn else ('params',)
    at_init = [
      {k: jax.tree.map(lambda t, s=s: t[s], getattr(states, k)) for k in keep}
      for s in range(config.seeds)
    ]
    trained = [
      checkpoints.restore_variables(
        os.path.join(workdir, 'groups', r['group'], 'checkpoints'), index[i]
      )
      for i, r in enumerate(records)
      if not r['diverged']
      and r['point'][BN] == bn
      and r['point'][SCALE] == scale
      and r['point'][LR] == a.coupling_lr
    ]
    out[str(bn)] = {
      'init': _coupling_of(model, at_init, x, y, a.coupling_lr),
      'trained': _coupling_of(model, trained, x, y, a.coupling_lr) if trained else None,
    }
  return out


# ----------------------------------------------------------------------------- verdict


def verdict(results) -> v.Verdict:
  cfg = ml_collections.ConfigDict(results['config']['verdict'])
  k = results['config']['train']['steps_per_epoch']
  cells = _cells(results)
  lrs = sorted({lr for _, lr, _ in cells})
  healthy = [s for s in sorted({s for s, _, _ in cells}) if s != cfg.tiny_scale]
  checks = []

  def pair(scale, lr):
    return cells.get((scale, lr, False)), cells.get((scale, lr, True))

  # 1. Fewer steps to the target: BN's best rate beats the plain net's best, and BN is not
  # slower at any rate by more than one evaluation interval.
  parts, not_slower, best_on, best_off = [], [], np.inf, np.inf
  for scale in healthy:
    for lr in lrs:
      off, on = pair(scale, lr)
      if off is None or on is None:
        continue
      s_off, s_on = _steps(off, cfg, k), _steps(on, cfg, k)
      med_off, med_on = np.median(s_off), np.median(s_on)
      best_on, best_off = min(best_on, med_on), min(best_off, med_off)
      if np.isfinite(med_off) or np.isfinite(med_on):
        not_slower.append(bool(med_on <= med_off + k))
      parts.append(f'lr {lr:g}: BN [{_fmt_steps(s_on)}] vs plain [{_fmt_steps(s_off)}]')
  known = bool(not_slower) and (np.isfinite(best_on) or np.isfinite(best_off))
  checks.append(
    v.Check(
      claim=f'BN reaches {cfg.target:.0%} validation accuracy in fewer steps (healthy init)',
      threshold=f'fastest rate: median steps with BN < without; at every rate: BN <= plain + '
      f'{k} (one evaluation interval)',
      measured='; '.join(parts) + f'; fastest: BN {best_on:.0f} vs plain {best_off:.0f}'
      if parts
      else 'n/a',
      passed=bool(best_on < best_off and all(not_slower)) if known else None,
      value=float(best_off - best_on) if known else None,
    )
  )

  # 2. Tolerates the larger rates.
  top = lrs[-1] if lrs else None
  off, on = pair(healthy[0], top) if healthy and top is not None else (None, None)
  if off and on:
    reached = bool(np.isfinite(_steps(on, cfg, k)).all())
    acc_on, acc_off = _final(on, 'test_accuracy'), _final(off, 'test_accuracy')
    gap = float(np.nanmean(acc_on) - np.nanmean(acc_off))
    noise = max(rs.spread(acc_on), rs.spread(acc_off))
    checks.append(
      v.Check(
        claim=f'BN tolerates the largest rate ({top:g}): it reaches the target there and beats '
        'the plain net',
        threshold='at the largest rate: every BN seed reaches the target; test acc gap > spread',
        measured=f'every BN seed reaches it: {reached}; test acc: BN {np.nanmean(acc_on):.4f} vs '
        f'plain {np.nanmean(acc_off):.4f} (gap {gap:.4f}, spread {noise:.4f})',
        passed=bool(reached and gap > noise),
        value=gap,
      )
    )
  else:
    checks.append(v.Check('BN tolerates the largest rate', '-', 'n/a', None))

  # 3. Rescue of a tiny init; the exam's (d) reads the same runs.
  parts, stalls, rescues, rescued_at = [], [], [], []
  for lr in lrs:
    off, on = pair(cfg.tiny_scale, lr)
    if off is None or on is None:
      continue
    val_off = _final(off, 'val_accuracy')
    stalls.append(bool(np.all(np.nan_to_num(val_off, nan=0.0) < cfg.stall_below)))
    rescues.append(bool(np.isfinite(_steps(on, cfg, k)).all()))
    if rescues[-1] and not np.isfinite(_steps(off, cfg, k)).any():
      rescued_at.append(lr)
    best_off = np.nanmax(val_off) if np.isfinite(val_off).any() else float('nan')
    parts.append(
      f'lr {lr:g}: plain final val acc max {best_off:.3f}, '
      f'BN steps to target [{_fmt_steps(_steps(on, cfg, k))}]'
    )
  checks.append(
    v.Check(
      claim=f'a tiny init (scale {cfg.tiny_scale:g}) stalls without BN and trains with it',
      threshold=f'plain: final val acc < {cfg.stall_below} for every seed; BN: every seed '
      'reaches the target; at every rate',
      measured='; '.join(parts) or 'n/a (no tiny-init runs)',
      passed=bool(all(stalls) and all(rescues)) if parts else None,
      value=float(np.mean(stalls + rescues)) if parts else None,
    )
  )
  statement = bool(rescued_at) if parts else None
  claim_d = v.test(
    '003 P11.1(d)',
    'BN mitigates the effects of a poor init and allows initializing the weights to small '
    'values close to zero',
    document='False ("the batch norm does not actively determine weights to have a certain range")',
    measured=f'init scale {cfg.tiny_scale:g} (He x {cfg.tiny_scale:g}): '
    + ('; '.join(parts) or 'n/a (no tiny-init runs)')
    + (
      f'; BN trains where the plain net never does at lr {", ".join(f"{r:g}" for r in rescued_at)}'
      if rescued_at
      else ''
    ),
    threshold=f'the statement is true (the answer False wrong) if at some rate every BN seed from '
    f'init scale {cfg.tiny_scale:g} reaches {cfg.target:.0%} validation accuracy and no plain seed '
    'does',
    passed=None if statement is None else not statement,
    wrong_if_fails=True,
    correct='True: from weights 100x smaller than He, BN trains and the plain net does not',
    value=len(rescued_at),
  )

  analysis = results.get('analysis') or {}
  claims = (
    [_claim_a(analysis), *_claims_bc(analysis, cfg), claim_d] + checks + _side_rows(analysis, cfg)
  )

  table = []
  for (scale, lr, bn), recs in cells.items():
    steps = _steps(recs, cfg, k)
    test = _final(recs, 'test_accuracy')
    table.append(
      {
        'init scale': f'{scale:g}',
        'lr': f'{lr:g}',
        'batch norm': 'yes' if bn else 'no',
        f'steps to {cfg.target:.0%} val (per seed)': _fmt_steps(steps),
        'final val acc': f'{np.nanmean(_final(recs, "val_accuracy")):.4f}',
        'final test acc (mean ± std)': rs.stats(test).format(4),
        'diverged': sum(r['diverged'] for r in recs),
      }
    )
  # A diverged plain net at a large rate is the finding, not a broken run.
  diverged_bn = sum(r['diverged'] for r in results['records'] if r['point'][BN])
  outcome, reasons = v.decide(
    claims,
    v.run_reasons(
      seeds=results['seeds'],
      min_seeds=cfg.min_seeds,
      standin=results['dataset']['standin'],
      diverged=diverged_bn,
    ),
  )
  return v.Verdict(outcome, claims, table, reasons)


def _claim_a(a) -> v.Claim:
  """(a): a step with BN is faster. Timing one model; not a trained result."""
  claim = 'BN makes processing a single batch faster (same updates, less time)'
  document = 'False (BN adds processing time to each iteration)'
  threshold = 'the answer False holds if the median step time with BN / without > 1'
  t = a.get('step_seconds')
  if not t:
    return v.test(
      '003 P11.1(a)',
      claim,
      document=document,
      measured='n/a (not timed)',
      threshold=threshold,
      passed=None,
      from_training=False,
    )
  ratio = t['True']['median'] / t['False']['median']
  return v.test(
    '003 P11.1(a)',
    claim,
    document=document,
    measured=f'{t["True"]["median"] * 1e3:.3f} ms vs {t["False"]["median"] * 1e3:.3f} ms per '
    f'step (ratio {ratio:.2f}; median of {t["True"]["repeats"]} x {t["True"]["steps"]} steps, '
    'one model)',
    threshold=threshold,
    passed=bool(ratio > 1.0),
    wrong_if_fails=True,
    correct='True (a step with BN was faster here)',
    value=ratio,
    from_training=False,
  )


def _compare(higher, lower):
  """(passed, gap, noise): `higher` above `lower` by more than the seed spread (max - min) of
  either is True, below by more is False, in between None (the seeds cannot tell)."""
  higher, lower = np.asarray(higher, np.float64), np.asarray(lower, np.float64)
  gap = float(np.mean(higher) - np.mean(lower))
  noise = max(rs.spread(higher), rs.spread(lower))
  return (True if gap > noise else False if gap < -noise else None), gap, noise


def _ms(x) -> str:
  s = rs.stats(x)
  return f'{s.mean:.4f} ± {s.std:.4f} ({s.min:.4f}-{s.max:.4f})'


def _claims_bc(a, cfg) -> list:
  """(b) and (c), both answered True, on the trained nets of the healthy init."""
  c = a.get('coupling')
  claim_b = 'BN weakens the coupling between earlier and later layers (independent learning)'
  claim_c = 'BN normalizes the output distribution to be more uniform across dimensions'
  doc_b = 'True ("loosening the coupling in between layers")'
  doc_c = 'True ("normalize each layer\'s inputs")'
  test_b = (
    "coupling = cos(G, G'), G the gradient of a layer's kernel and G' the same after every "
    'earlier layer took its SGD step (Santurkar et al. 2018), mean over every layer after the '
    'first, on the trained nets: True if BN above plain by more than the seed spread, False if '
    'below by more'
  )
  test_c = (
    "unevenness = std / mean across units of each unit's std over a batch, mean over the hidden "
    "layers, of the trained BN net: True if BN's output is below its input by more than the seed "
    'spread, False if above by more'
  )
  trained = c and c['True']['trained'] and c['False']['trained']
  if not trained:
    why = 'n/a (no trained runs at the coupling rate and the healthy init)'
    return [
      v.test('003 P11.1(b)', claim_b, document=doc_b, measured=why, threshold=test_b, passed=None),
      v.test('003 P11.1(c)', claim_c, document=doc_c, measured=why, threshold=test_c, passed=None),
    ]
  on, off = c['True'], c['False']
  where = f'lr {c["lr"]:g}, init scale {c["init_scale"]:g}, a batch of {c["batch"]} images'
  passed_b, gap_b, _ = _compare(on['trained']['cos'], off['trained']['cos'])
  row_b = v.test(
    '003 P11.1(b)',
    claim_b,
    document=doc_b,
    measured=f"trained ({where}): cos(G, G') BN {_ms(on['trained']['cos'])} vs plain "
    f"{_ms(off['trained']['cos'])}, |G - G'| / |G| BN {_ms(on['trained']['rel'])} vs plain "
    f'{_ms(off["trained"]["rel"])}; at init: cos BN {_ms(on["init"]["cos"])} vs plain '
    f'{_ms(off["init"]["cos"])}',
    threshold=test_b,
    passed=passed_b,
    wrong_if_fails=True,
    correct="False on this measure (the later layers' gradients move at least as much with BN)",
    value=gap_b,
  )
  passed_c, gap_c, _ = _compare(on['trained']['dense_spread'], on['trained']['bn_spread'])
  row_c = v.test(
    '003 P11.1(c)',
    claim_c,
    document=doc_c,
    measured=f"trained ({where}): unevenness of BN's input {_ms(on['trained']['dense_spread'])} "
    f"-> BN's output {_ms(on['trained']['bn_spread'])} (plain net's dense output "
    f"{_ms(off['trained']['dense_spread'])}); at init: BN's input "
    f'{_ms(on["init"]["dense_spread"])} -> output {_ms(on["init"]["bn_spread"])}',
    threshold=test_c,
    passed=passed_c,
    wrong_if_fails=True,
    correct="False on this measure (BN's output is no more even across units than its input)",
    value=gap_c,
  )
  return [row_b, row_c]


def _code_row(claim, row, cfg, *, document, correct) -> v.Claim:
  """A version of the exam's code: runs, equals flax, finite on a feature of zero variance."""
  errors = [f'{mode} mode: {e}' for mode, e in row['errors'].items() if e]
  diffs = {k: row.get(k) for k in ('train_output', 'running_mean', 'running_var', 'eval_output')}
  shown = ', '.join(f'{k} {"non-finite" if d is None else f"{d:.1e}"}' for k, d in diffs.items())
  measured = '; '.join(errors) if errors else f'max |code - flax|: {shown}'
  finite = row['constant_feature']
  measured += '; a feature of variance 0 gives a finite output: ' + (
    'n/a (does not run)' if finite is None else str(finite)
  )
  ok = (
    not errors
    and all(d is not None and d <= cfg.reference_atol for d in diffs.values())
    and row['constant_feature'] is True
  )
  return v.test(
    '003 P11.2',
    claim,
    document=document,
    measured=measured,
    threshold=f'runs; train output, running mean and var (beta_avg = flax momentum) and test '
    f'output within {cfg.reference_atol:g} of flax.linen.BatchNorm; finite when a feature has '
    'variance 0',
    passed=bool(ok),
    wrong_if_fails=True,
    correct=correct,
    primary=False,
    from_training=False,
  )


def _side_rows(a, cfg) -> list:
  """The exam's side questions (the code, epsilon, batch size 1, the count) and own checks."""
  rows = []
  scales = a.get('activation_scale')
  if scales:
    tiny = f'{cfg.tiny_scale:g}'
    plain, normed = scales.get(f'bn=False,scale={tiny}'), scales.get(f'bn=True,scale={tiny}')
    if plain and normed:
      shrink = plain[0] / max(plain[-1], 1e-38)
      lo, hi = cfg.bn_scale_band
      rows.append(
        v.test(
          v.OWN,
          f'at init (scale {tiny}) the activations vanish layer by layer without BN and keep '
          'their scale with it',
          document='-',
          threshold=f'plain: layer 1 / layer {len(plain)} std >= {cfg.shrink_at_least:g}; '
          f'BN: every layer std in [{lo}, {hi}]',
          measured='plain '
          + ', '.join(f'{s:.1e}' for s in plain)
          + '; BN '
          + ', '.join(f'{s:.2f}' for s in normed),
          passed=bool(shrink >= cfg.shrink_at_least and all(lo <= s <= hi for s in normed)),
          value=float(shrink),
          primary=False,
        )
      )
  code = (a.get('document_code') or {}).get('versions')
  if code:
    rows.append(
      _code_row(
        "the exam's forward pass as written computes batch norm",
        code['as written'],
        cfg,
        document='def forward_batchnorm(Z, ...): mu = np.mean(X, axis=0); var = np.var(X, '
        'axis=0) ... z_norm = (X - mu) / np.sqrt(var + eps)',
        correct='normalize the argument: z_norm = (Z - mu) / np.sqrt(var + eps)',
      )
    )
    rows.append(
      _code_row(
        "the question's formula z_norm = (z - mu) / sigma + eps (epsilon outside the root)",
        code['printed formula'],
        cfg,
        document='z(i)_norm = (z(i) - mu) / sigma + epsilon',
        correct='z_norm = (z - mu) / sqrt(sigma^2 + eps)',
      )
    )
    rows.append(
      _code_row(
        "the exam's forward pass with Z for X computes batch norm",
        code['corrected'],
        cfg,
        document='train: the batch mean and variance, running averages with beta_avg; test: '
        'the running averages',
        correct='',
      )
    )
    fixed = code['corrected']
    rows.append(
      v.test(
        '003 P11.3',
        'epsilon prevents the division by 0 for features whose variance is 0',
        document='"helps prevent the division by 0 for features that have variance equal 0"',
        measured=f'the corrected code on a batch whose first feature is constant: finite output '
        f'with eps {a["document_code"]["eps"]:g}: '
        f'{fixed["constant_feature"]}, with eps 0: {fixed["constant_feature_eps_0"]}',
        threshold='finite with epsilon, not finite with epsilon 0',
        passed=bool(fixed['constant_feature'] and fixed['constant_feature_eps_0'] is False),
        primary=False,
        from_training=False,
      )
    )
  one = a.get('batch_of_one')
  if one:
    ident = one['identity']
    rows.append(
      v.test(
        '003 P11.4',
        'batch size 1, training mode: the BN output is the same for every input (beta, 0 at init)',
        document='"the output from the Batch Norm layer will always be 0" (beta, initialized to 0)',
        threshold='max |BN output - beta| == 0 and max |logits(x_i) - logits(x_0)| == 0 exactly',
        measured=f'{ident["max_abs_bn_output_minus_beta"]:g} and '
        f'{ident["max_abs_logit_difference_between_inputs"]:g} over {ident["inputs"]} inputs',
        passed=ident['max_abs_bn_output_minus_beta'] == 0.0
        and ident['max_abs_logit_difference_between_inputs'] == 0.0,
        primary=False,
        from_training=False,
      )
    )
    b1, bn_ = one['trained']['1'], next(t for s, t in one['trained'].items() if s != '1')
    batch = next(s for s in one['trained'] if s != '1')
    rows.append(
      v.test(
        '003 P11.4',
        'trained at batch size 1, "there won\'t be any meaningful learning": the weights before '
        'every BN and gamma never move',
        document='no meaningful learning at batch size 1',
        threshold=f'hidden kernels and gamma unchanged exactly; test acc < {cfg.stall_below} '
        f'(batch {batch}, same steps: learns)',
        measured=f'{b1["steps"]} steps: max change of hidden kernels '
        f'{b1["max_change_hidden_kernels"]:g}, gamma {b1["max_change_gamma"]:g}, beta '
        f'{b1["max_change_beta"]:.3g}; test acc {b1["test_accuracy"]:.4f} (batch '
        f'{batch}: {bn_["test_accuracy"]:.4f})',
        passed=bool(
          b1['max_change_hidden_kernels'] == 0.0
          and b1['max_change_gamma'] == 0.0
          and b1['test_accuracy'] < cfg.stall_below
          and bn_['test_accuracy'] > cfg.target - 0.1
        ),
        value=b1['test_accuracy'],
        primary=False,
      )
    )
  p = a.get('parameters')
  if p:
    with_bias = p['with dense bias']
    trainable = sum(with_bias['trainable'].values())
    stats = sum(with_bias['running_stats'].values())
    without = sum(p['without dense bias']['trainable'].values())
    rows.append(
      v.number(
        '003 P11.5',
        'trainable parameters of Dense(20 -> 30) + BN',
        document=660,
        computed=trainable,
        tolerance=0,
        measured=', '.join(f'{k} {n}' for k, n in with_bias['trainable'].items())
        + f' = {trainable} trainable (+ {stats} running statistics, not trained); {without} '
        "only without the dense bias, which the answer drops (nets.MLP does: BN's beta replaces "
        'it)',
      )
    )
  ref = a.get('reference')
  if ref:
    worst = max(np.inf if d is None else d for d in ref.values())
    rows.append(
      v.test(
        v.OWN,
        'the written-out BN forward pass (nets/batch_norm.py) equals flax.linen.BatchNorm',
        document='-',
        threshold=f'max abs difference <= {cfg.reference_atol:g} (train, eval, running averages)',
        measured=', '.join(
          f'{k} {"non-finite" if d is None else f"{d:.1e}"}' for k, d in ref.items()
        ),
        passed=bool(worst <= cfg.reference_atol),
        value=worst,
        primary=False,
        from_training=False,
      )
    )
  return rows


# ----------------------------------------------------------------------------- plots


def plot(results, workdir) -> list[str]:
  cfg = results['config']
  k = cfg['train']['steps_per_epoch']
  target = cfg['verdict']['target']
  curves = rs.by_point(
    results['records'],
    (SCALE, LR, BN),
    lambda r: r['history']['val_accuracy'],
    include_diverged=True,
  )
  scales = sorted({s for s, _, _ in curves}, reverse=True)
  lrs = sorted({lr for _, lr, _ in curves})
  fig, axes = report.pyplot().subplots(
    len(scales), len(lrs), figsize=(4.2 * len(lrs), 3.4 * len(scales)), squeeze=False, sharey=True
  )
  for i, scale in enumerate(scales):
    for j, lr in enumerate(lrs):
      ax = axes[i, j]
      for bn, color in ((False, 'tab:red'), (True, 'tab:blue')):
        acc = curves.get((scale, lr, bn))
        if acc is None:
          continue
        steps = k * np.arange(1, acc.shape[1] + 1)
        ax.plot(steps, np.nanmean(acc, 0), color=color, label='BN' if bn else 'plain')
        ax.fill_between(steps, np.nanmin(acc, 0), np.nanmax(acc, 0), color=color, alpha=0.2)
      ax.axhline(target, color='k', ls='--', lw=0.8)
      ax.set(title=f'init scale {scale:g}, lr {lr:g}', xlabel='steps', ylim=(0, 1))
      ax.grid(alpha=0.3)
    axes[i, 0].set_ylabel('validation accuracy')
  axes[0, 0].legend(fontsize=8, title='mean; band = seed min-max', title_fontsize=8)
  fig.suptitle(f'{results["dataset"]["name"]}: validation accuracy against steps', fontsize=9)
  paths = [report.save_figure(fig, os.path.join(workdir, 'validation_accuracy_vs_steps.png'))]
  scales_at_init = (results.get('analysis') or {}).get('activation_scale')
  if scales_at_init:
    fig, ax = report.pyplot().subplots(figsize=(6, 4.2))
    for name, per_layer in scales_at_init.items():
      ax.semilogy(
        range(1, len(per_layer) + 1),
        per_layer,
        marker='o',
        ls='-' if 'True' in name else '--',
        label=name.replace(',', ', '),
      )
    ax.set(
      xlabel='hidden layer',
      ylabel='std of activations (train mode, first batch)',
      title='activation scale at init',
    )
    ax.grid(alpha=0.3, which='both')
    ax.legend(fontsize=8)
    paths.append(report.save_figure(fig, os.path.join(workdir, 'activation_scale_at_init.png')))
  return paths
