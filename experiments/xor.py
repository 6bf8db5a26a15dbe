"""XOR: no hidden layer (or only linear ones) cannot fit it; one hidden layer of 2 ReLUs can.

Seed: the CS155-style problem set's problems D and E ("approximating functions": a ReLU network
for OR, the fewest layers for XOR) and theory Q1.2 ("linear activations"). Three parts:

1. Hand-set networks, run through the same MLP module and checked exactly on the four inputs
   (`HAND_SET`): OR needs no hidden layer, XOR one hidden layer of two ReLUs.
2. Trained on the four XOR points (full batch, Adam): the grid hidden layers {none, one of 2
   units, three of 4} x activation {relu, linear}, every point over the seeds. No line separates
   XOR's classes, so a model without hidden layer fits at most 3 of the 4 points (the exact
   bound is computed, not assumed); one hidden ReLU layer can fit all 4.
3. Linear collapse: with the identity as activation, a deep network is one affine map. The probe
   multiplies the trained layers out into A and b (x A + b) and measures the largest gap to the
   network's logits on random inputs; a ReLU network of the same shape is the control.
"""

import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

import data
from engine import base_config, loop, planar
from engine import records as rs
from engine import verdict as v

NAME = 'xor'
VARIANTS = ('quick',)
HIDDEN, ACT = 'model.hidden', 'model.activation'

# Class-1 logit minus class-0 logit; a point is labelled 1 when it is positive.
# OR, no hidden layer: x1 + x2 - 0.5, i.e. -0.5, 0.5, 0.5, 1.5 on (0,0), (0,1), (1,0), (1,1).
# XOR, two ReLUs: h1 = relu(x1 + x2) counts the ones, h2 = relu(x1 + x2 - 1) fires only on (1,1);
# h1 - 2 h2 - 0.5 is -0.5, 0.5, 0.5, -0.5.
HAND_SET = {
  'or_gate': ((), {'Dense_0': {'kernel': [[0.0, 1.0], [0.0, 1.0]], 'bias': [0.5, 0.0]}}),
  'xor_gate': (
    (2,),
    {
      'Dense_0': {'kernel': [[1.0, 1.0], [1.0, 1.0]], 'bias': [0.0, -1.0]},
      'Dense_1': {'kernel': [[0.0, 1.0], [0.0, -2.0]], 'bias': [0.5, 0.0]},
    },
  ),
}
HAND_SET_MARGIN = {'or_gate': [-0.5, 0.5, 0.5, 1.5], 'xor_gate': [-0.5, 0.5, 0.5, -0.5]}


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
  c = base_config.get_config()
  c.dataset.update(dict(name='xor_gate', validation_size=4, download=False, allow_standin=False))
  c.model = ml_collections.ConfigDict(
    dict(
      name='mlp',
      hidden=(2,),
      num_classes=2,
      activation='relu',
      kernel_init='glorot_normal',
      init_scale=1.0,
      batch_norm=False,
      dropout=False,
      dropout_rate=0.0,
    )
  )
  c.optimizer = ml_collections.ConfigDict(dict(name='adam', learning_rate=0.01))
  c.train.update(
    dict(epochs=20, passes_per_epoch=100, batch_size=4, eval_batch_size=4, eval_train_size=0)
  )
  c.sweep.model = ml_collections.ConfigDict(
    dict(hidden=((), (2,), (8,), (4, 4, 4)), activation=('relu', 'linear'))
  )
  c.seeds = 10
  c.sweep_max_models = 0
  c.verdict = ml_collections.ConfigDict(
    dict(min_seeds=5, min_fit_fraction=0.5, collapse_tol=1e-5, control_min_gap=1e-3)
  )
  if variant == 'quick':
    c.train.update(dict(epochs=2, passes_per_epoch=50))
    c.sweep.model.hidden = ((), (3, 3))
    c.seeds = 2
  return c


def collapse(params, depth):
  """(A, b) with x A + b the logits of `depth` dense layers composed with identity activations."""
  a, b = params['Dense_0']['kernel'], params['Dense_0']['bias']
  for i in range(1, depth):
    layer = params[f'Dense_{i}']
    a, b = a @ layer['kernel'], b @ layer['kernel'] + layer['bias']
  return a, b


def collapse_error(model, params, x):
  """max |network(x) - (x A + b)|, relative to 1 + max |network(x)|."""
  out = model.apply({'params': params}, x, train=False)
  a, b = collapse(params, len(model.hidden) + 1)
  return jnp.max(jnp.abs(out - (x @ a + b))) / (1 + jnp.max(jnp.abs(out)))


def probe(model, state, images, labels):
  """The collapse identity's gap, and the fraction of hidden units dead on the training inputs.

  The gap is measured on 256 fixed random inputs, N(0, 3^2) per coordinate: far wider than
  the four training points, so a ReLU network's kinks are inside the sample. A unit is dead
  when its pre-activation is <= 0 on every training input (for ReLU: no gradient ever again).
  """
  del labels
  x = 3.0 * jax.random.normal(jax.random.PRNGKey(0), (256, 2))
  dead = planar.dead_units(model, state.params, images)
  return {
    'collapse_error': collapse_error(model, state.params, x),
    'dead_fraction': jnp.mean(dead.astype(jnp.float32)) if dead.size else jnp.zeros(()),
  }


def hand_set_margins(name):
  """The hand-set network's class-1 minus class-0 logit on the gate's four inputs."""
  hidden, params = HAND_SET[name]
  model = loop.build_model(
    ml_collections.ConfigDict(
      dict(
        name='mlp',
        hidden=hidden,
        num_classes=2,
        activation='relu',
        kernel_init='zeros',
        init_scale=1.0,
        batch_norm=False,
        dropout=False,
        dropout_rate=0.0,
      )
    )
  )
  params = jax.tree.map(
    lambda a: jnp.asarray(a, jnp.float32), params, is_leaf=lambda a: isinstance(a, list)
  )
  x, _ = data.toy2d.gate(name)
  logits = model.apply({'params': params}, x, train=False)
  return np.asarray(logits[:, 1] - logits[:, 0]), model, params


def _key(r):
  return tuple(r['point'][HIDDEN]), r['point'][ACT]


def _name(hidden):
  return 'no hidden layer' if not hidden else 'hidden ' + 'x'.join(map(str, hidden))


def verdict(results) -> v.Verdict:
  cfg = ml_collections.ConfigDict(results['config']['verdict'])
  records = results['records']
  fit = rs.by_point(
    records, (HIDDEN, ACT), lambda r: round(4 * r['final']['train_accuracy']), include_diverged=True
  )
  gap = rs.by_point(records, (HIDDEN, ACT), 'collapse_error', include_diverged=True)
  dead_all = rs.by_point(records, (HIDDEN, ACT), 'dead_fraction', include_diverged=True)
  x, y = data.toy2d.gate('xor_gate')
  line = planar.best_line_accuracy(x, y)
  checks = []
  for gate in ('or_gate', 'xor_gate'):
    margin, _, _ = hand_set_margins(gate)
    want = np.asarray(HAND_SET_MARGIN[gate], np.float32)
    _, truth = data.toy2d.gate(gate)
    checks.append(
      v.Check(
        claim=f'the hand-set {gate.split("_")[0].upper()} network '
        f'({_name(HAND_SET[gate][0])}, ReLU) computes the truth table exactly',
        threshold=f'logit margins == {want.tolist()} exactly; labels == {truth.tolist()}',
        measured=f'margins {margin.tolist()}, labels {(margin > 0).astype(int).tolist()}',
        passed=bool(np.array_equal(margin, want) and np.array_equal(margin > 0, truth > 0)),
      )
    )

  flat = {k: f for k, f in fit.items() if not k[0]}
  if flat:
    worst = max(f.max() for f in flat.values())
    checks.append(
      v.Check(
        claim='a model with no hidden layer cannot fit XOR',
        threshold=f'at most 3 of 4 points for every seed (best line: {4 * line:.0f} of 4)',
        measured=f'most points fit by any seed: {worst:.0f} of 4',
        passed=bool(worst <= 3 and line <= 0.75),
        value=float(worst),
      )
    )
  one = {k[0][0]: f for k, f in fit.items() if len(k[0]) == 1 and k[1] == 'relu'}
  if one and min(one) <= 2:
    narrow, wide = min(one), max(one)
    dead = dead_all[((narrow,), 'relu')]
    missed = one[narrow] < 4
    checks.append(
      v.Check(
        claim=f'one hidden layer of {narrow} ReLUs can be trained to fit XOR',
        threshold='4 of 4 points for at least one seed',
        measured=f'{int((one[narrow] == 4).sum())} of {len(one[narrow])} seeds; of the '
        f'{int(missed.sum())} that miss a point, {int((dead[missed] > 0).sum())} '
        'have a hidden unit dead on all four inputs',
        passed=bool((one[narrow] == 4).any()),
        value=float((one[narrow] == 4).mean()),
      )
    )
    checks.append(
      v.Check(
        claim='one hidden ReLU layer fits XOR for most seeds (the widest in the grid)',
        threshold=f'fraction of seeds fitting 4 of 4 at width {wide} >= {cfg.min_fit_fraction:g}',
        measured='; '.join(
          f'width {w}: {int((f == 4).sum())} of {len(f)} seeds' for w, f in sorted(one.items())
        ),
        passed=bool((one[wide] == 4).mean() >= cfg.min_fit_fraction),
        value=float((one[wide] == 4).mean()),
      )
    )
  deep_linear = {k: g for k, g in gap.items() if len(k[0]) >= 2 and k[1] == 'linear'}
  controls = {k: g for k, g in gap.items() if len(k[0]) >= 2 and k[1] != 'linear'}
  if deep_linear:
    worst = max(g.max() for g in deep_linear.values())
    control = min((g.min() for g in controls.values()), default=None)
    checks.append(
      v.Check(
        claim='a deep network with linear activations equals one affine map x A + b',
        threshold=f'relative gap on random inputs <= {cfg.collapse_tol:g} for every seed'
        + (
          f'; the ReLU control of the same shape >= {cfg.control_min_gap:g}'
          if control is not None
          else ''
        ),
        measured=f'largest gap {worst:.2g}'
        + ('' if control is None else f'; ReLU control smallest gap {control:.2g}'),
        passed=bool(
          worst <= cfg.collapse_tol and (control is None or control >= cfg.control_min_gap)
        ),
        value=float(worst),
      )
    )
    worst_fit = max(fit[k].max() for k in deep_linear)
    checks.append(
      v.Check(
        claim='so the deep linear network fails XOR like the model with no hidden layer',
        threshold='at most 3 of 4 points for every seed',
        measured=f'most points fit by any seed: {worst_fit:.0f} of 4',
        passed=bool(worst_fit <= 3),
        value=float(worst_fit),
      )
    )
  if len(checks) < 7:
    checks.append(
      v.Check(
        'the grid holds every part',
        'no hidden layer, one hidden ReLU layer of 2+, a deep linear network',
        'a part is missing from the sweep',
        None,
      )
    )
  table = []
  for k in sorted(fit, key=lambda k: (len(k[0]), k[0], k[1])):
    f = fit[k]
    table.append(
      {
        'hidden layers': _name(k[0]),
        'activation': k[1],
        'seeds fitting 4 of 4': f'{int((f == 4).sum())} of {len(f)}',
        'points fit (min / median / max)': f'{f.min():.0f} / {np.median(f):.0f} / {f.max():.0f}',
        'seeds with a dead ReLU': f'{int((dead_all[k] > 0).sum())} of {len(f)}'
        if k[1] == 'relu' and k[0]
        else '-',
        'collapse gap (max)': f'{gap[k].max():.2g}',
      }
    )
  return v.of_run(
    results, checks, table, min_seeds=cfg.min_seeds, diverged=sum(r['diverged'] for r in records)
  )


def plot(results, workdir) -> list[str]:
  config = results['config']
  records = results['records']
  x, y = data.toy2d.gate('xor_gate')
  rows = [tuple(h) for h in config['sweep']['model']['hidden']]
  cols = list(config['sweep']['model']['activation'])
  panels = {}
  for r, j in zip(records, rs.group_indices(records)):
    key = _key(r)
    if (_name(key[0]), key[1]) in panels or r['diverged']:
      continue
    model_config = ml_collections.ConfigDict(config['model'])
    model_config.update(dict(hidden=key[0], activation=key[1]))
    fits = round(4 * r['final']['train_accuracy'])
    panels[(_name(key[0]), key[1])] = (
      loop.build_model(model_config),
      planar.trained_variables(workdir, r, j),
      x,
      y,
      f'seed {r["seed"]}: {fits} of 4 fit',
    )
  paths = [
    planar.boundary_grid(
      os.path.join(workdir, 'xor_boundaries.png'),
      panels,
      rows=[_name(h) for h in rows],
      cols=cols,
      extent=(-0.5, 1.5),
      title='Trained on XOR: P(class 1), first seed (rows: hidden layers, columns: activation)',
    )
  ]
  hand = {}
  for gate in HAND_SET:
    _, model, params = hand_set_margins(gate)
    gx, gy = data.toy2d.gate(gate)
    hand[('hand-set', gate)] = (model, {'params': params}, gx, gy, _name(HAND_SET[gate][0]))
  paths.append(
    planar.boundary_grid(
      os.path.join(workdir, 'hand_set_or_xor.png'),
      hand,
      rows=['hand-set'],
      cols=list(HAND_SET),
      extent=(-0.5, 1.5),
      title='Hand-set ReLU networks: P(class 1)',
    )
  )
  return paths
