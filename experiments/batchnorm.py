"""Batch normalization: fewer steps, larger rates, a rescued init, and what it does not do (MNIST).

Seed: the CS155-style problem set (problem G), exam problem 11 and the midterm.

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
  each layer at init (the first training batch, train mode) shows why.

Measured on the side (`analyze`), from the real modules and the engine's own step programs:

- batch size 1: in training mode BN's output is (x - mean) / std * gamma + beta with mean = x, so
  every input maps to beta exactly and the net's output does not depend on its input. Trained
  at batch size 1, the weights before every BN get an exactly zero gradient and never move; the
  net learns nothing (the same steps at the usual batch size do learn).
- speed: the time of one training step with and without BN (the exam's claim (a) that BN makes
  a step faster); BN adds work per step and saves steps, not time per step.
- parameters of Dense(20 -> 30) + BN: 600 weights + 30 biases + 30 gamma + 30 beta trainable,
  30 + 30 running mean and variance not trainable. The exam's 660 is 600 + 30 + 30: the count
  for a dense layer without its bias (as here: a bias before BN is cancelled by the mean
  subtraction), or one that forgets gamma or beta; Keras' summary of Dense+BN says 690
  trainable and 750 in all.
- the exam's forward pass, `nets.batch_norm.batch_norm`, agrees with flax.linen.BatchNorm on
  real pre-activations in training and evaluation mode, running averages included.
"""

import functools
import os
import time

import flax
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import ml_collections
import numpy as np

import nets
from engine import base_config, loop, parallel, plan, report, run, sweep
from engine import records as rs
from engine import verdict as v
from nets import activations
from nets.batch_norm import batch_norm

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
  del workdir
  config = ml_collections.ConfigDict(results['config'])
  dataset = run.load_dataset(config)
  return {
    'activation_scale': activation_scales(config, dataset.train_x[: config.analysis.init_batch]),
    'batch_of_one': batch_of_one(config, dataset),
    'step_seconds': step_times(config, dataset),
    'parameters': parameter_accounting(config.analysis.dense_in, config.analysis.dense_out),
    'reference': reference_agreement(config, dataset.train_x[: config.analysis.init_batch]),
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


def activation_scales(config, x) -> dict:
  """`{'bn=..,scale=..': [std of each hidden layer's activations at init, mean over seeds]}`."""
  x = jnp.asarray(x)
  scales = sorted(
    set(config.sweep.model.get('init_scale', (config.model.init_scale,))), reverse=True
  )
  out = {}
  for scale in scales:
    for bn in (False, True):
      c = _variant(config, batch_norm=bn, init_scale=float(scale))
      model, _, _, states, _ = _start(c, x[:1], seeds=config.seeds)
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


def reference_agreement(config, x) -> dict:
  """Max |nets.batch_norm - flax BatchNorm| on the first layer's real pre-activations."""
  c = _variant(config, batch_norm=True, init_scale=config.model.init_scale)
  x = jnp.asarray(x)
  model, _, _, states, _ = _start(c, x[:1])
  one = jax.tree.map(lambda t: t[0], states)
  variables = {'params': one.params, 'batch_stats': one.batch_stats}
  _, inter = _forward(model, variables, x)
  h, y_flax = inter['Dense_0']['__call__'], inter['BatchNorm_0']['__call__']
  bn = one.params['BatchNorm_0']
  stats = one.batch_stats['BatchNorm_0']
  y, (mean, var) = batch_norm(h, bn['scale'], bn['bias'], stats['mean'], stats['var'], train=True)
  _, new = flax.linen.BatchNorm(use_running_average=False).apply(
    {'params': bn, 'batch_stats': stats}, h, mutable=['batch_stats']
  )
  new = new['batch_stats']
  eval_flax = flax.linen.BatchNorm(use_running_average=True).apply(
    {'params': bn, 'batch_stats': new}, h
  )
  y_eval, _ = batch_norm(h, bn['scale'], bn['bias'], new['mean'], new['var'], train=False)
  return {
    'train_output': float(jnp.max(jnp.abs(y - y_flax))),
    'running_mean': float(jnp.max(jnp.abs(mean - new['mean']))),
    'running_var': float(jnp.max(jnp.abs(var - new['var']))),
    'eval_output': float(jnp.max(jnp.abs(y_eval - eval_flax))),
  }


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

  # 3. Rescue of a tiny init.
  parts, stalls, rescues = [], [], []
  for lr in lrs:
    off, on = pair(cfg.tiny_scale, lr)
    if off is None or on is None:
      continue
    val_off = _final(off, 'val_accuracy')
    stalls.append(bool(np.all(np.nan_to_num(val_off, nan=0.0) < cfg.stall_below)))
    rescues.append(bool(np.isfinite(_steps(on, cfg, k)).all()))
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

  analysis = results.get('analysis') or {}
  checks += _analysis_checks(analysis, cfg)

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
    checks,
    v.run_reasons(
      seeds=results['seeds'],
      min_seeds=cfg.min_seeds,
      standin=results['dataset']['standin'],
      diverged=diverged_bn,
    ),
  )
  return v.Verdict(outcome, checks, table, reasons)


def _analysis_checks(a, cfg) -> list:
  checks = []
  scales = a.get('activation_scale')
  if scales:
    tiny = f'{cfg.tiny_scale:g}'
    plain, normed = scales.get(f'bn=False,scale={tiny}'), scales.get(f'bn=True,scale={tiny}')
    if plain and normed:
      shrink = plain[0] / max(plain[-1], 1e-38)
      lo, hi = cfg.bn_scale_band
      checks.append(
        v.Check(
          claim=f'at init (scale {tiny}) the activations vanish layer by layer without BN and '
          'keep their scale with it',
          threshold=f'plain: layer 1 / layer {len(plain)} std >= {cfg.shrink_at_least:g}; '
          f'BN: every layer std in [{lo}, {hi}]',
          measured='plain '
          + ', '.join(f'{s:.1e}' for s in plain)
          + '; BN '
          + ', '.join(f'{s:.2f}' for s in normed),
          passed=bool(shrink >= cfg.shrink_at_least and all(lo <= s <= hi for s in normed)),
          value=float(shrink),
        )
      )
  one = a.get('batch_of_one')
  if one:
    ident = one['identity']
    checks.append(
      v.Check(
        claim='batch size 1, training mode: every BN output equals beta, so the output is the '
        'same for every input',
        threshold='max |BN output - beta| == 0 and max |logits(x_i) - logits(x_0)| == 0 exactly',
        measured=f'{ident["max_abs_bn_output_minus_beta"]:g} and '
        f'{ident["max_abs_logit_difference_between_inputs"]:g} over '
        f'{ident["inputs"]} inputs',
        passed=ident['max_abs_bn_output_minus_beta'] == 0.0
        and ident['max_abs_logit_difference_between_inputs'] == 0.0,
      )
    )
    b1, bn_ = one['trained']['1'], next(t for s, t in one['trained'].items() if s != '1')
    batch = next(s for s in one['trained'] if s != '1')
    checks.append(
      v.Check(
        claim='trained at batch size 1, the net learns nothing: the weights before every BN '
        'and gamma never move',
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
      )
    )
  t = a.get('step_seconds')
  if t:
    ratio = t['True']['median'] / t['False']['median']
    checks.append(
      v.Check(
        claim="a step with BN is not faster (the exam's claim (a) is false): BN saves steps, "
        'not time per step',
        threshold='median step time with BN / without > 1',
        measured=f'{t["True"]["median"] * 1e3:.3f} ms vs {t["False"]["median"] * 1e3:.3f} ms '
        f'per step (ratio {ratio:.2f}; median of {t["True"]["repeats"]} x '
        f'{t["True"]["steps"]} steps, one model)',
        passed=bool(ratio > 1.0),
        value=float(ratio),
      )
    )
  p = a.get('parameters')
  if p:
    with_bias = p['with dense bias']
    trainable = sum(with_bias['trainable'].values())
    stats = sum(with_bias['running_stats'].values())
    mlp = sum(p['nets.MLP hidden layer']['trainable'].values())
    checks.append(
      v.Check(
        claim='Dense(20 -> 30) + BN: 600 weights + 30 biases + 30 gamma + 30 beta trainable, '
        '60 running statistics not; the exam said 660',
        threshold='trainable == 690 and running stats == 60 (from the modules)',
        measured=', '.join(f'{k} {n}' for k, n in with_bias['trainable'].items())
        + f' = {trainable} trainable; '
        + ', '.join(f'{k} {n}' for k, n in with_bias['running_stats'].items())
        + f' = {stats} not; without the dense bias (as in nets.MLP): {mlp} trainable',
        passed=trainable == 690 and stats == 60,
        value=trainable,
      )
    )
  ref = a.get('reference')
  if ref:
    worst = max(ref.values())
    checks.append(
      v.Check(
        claim='the written-out BN forward pass (nets/batch_norm.py) equals flax.linen.BatchNorm',
        threshold=f'max abs difference <= {cfg.reference_atol:g} (train, eval, running averages)',
        measured=', '.join(f'{k} {d:.1e}' for k, d in ref.items()),
        passed=bool(worst <= cfg.reference_atol),
        value=worst,
      )
    )
  return checks


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
  fig, axes = plt.subplots(
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
  paths = [report.save_figure(fig, os.path.join(workdir, 'validation_accuracy_vs_steps.png'))]
  scales_at_init = (results.get('analysis') or {}).get('activation_scale')
  if scales_at_init:
    fig, ax = plt.subplots(figsize=(6, 4.2))
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
