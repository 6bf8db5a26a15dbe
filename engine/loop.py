"""The epoch loop for one group: points x seeds trained together under vmap.

Every random number is derived from (seed, epoch, step), never from the position of a model in
the group or from how often the process restarted, so a group trained alone or together, in one
go or resumed from a checkpoint, sees the same data order, dropout masks and initial weights.
Where the group's models and batches sit on the devices is its layout (engine/parallel.py); the
programs here take it as a mesh and state their shardings, so the values do not depend on it.
"""
import dataclasses
import functools
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import tqdm

import nets
from engine import checkpoints, distributed, early_stopping, optimizers, parallel, sweep
from engine import state as state_lib
from engine import steps as steps_lib
from engine.errors import UserError

EVAL_SPLITS = ('train', 'val', 'test')
ORDERS = ('shuffled', 'sorted_by_label')
_INIT, _SHUFFLE, _DROPOUT = 0, 1, 2


def build_model(model_config):
  fields = {k: v for k, v in model_config.items() if k not in ('name', 'dropout_rate')}
  return nets.build(model_config.name, **fields)


def put_on_device(dataset, eval_train_size: int, eval_batch_size: int, devices=None):
  """Train arrays as they are; eval splits padded into equal batches with a mask.

  Every array is replicated on each of `devices` (default: the default device), so a batch of
  any layout (engine/parallel.py) is gathered where it is used. The train split is evaluated on
  its first `eval_train_size` images (0 = all), enough to measure under- vs over-fitting
  without re-reading every image each epoch.
  """
  where = None
  if devices is not None:
    where = jax.sharding.NamedSharding(jax.sharding.Mesh(np.array(devices), ('all',)),
                                       jax.sharding.PartitionSpec())

  def batched(x, y):
    n = len(y)
    nb = -(-n // eval_batch_size)
    pad = nb * eval_batch_size - n
    x = np.concatenate([x, np.zeros((pad,) + x.shape[1:], x.dtype)])
    y = np.concatenate([y, np.zeros((pad,), y.dtype)])
    mask = np.arange(nb * eval_batch_size) < n
    shape = (nb, eval_batch_size)
    return tuple(jax.device_put(a.reshape(shape + a.shape[1:]), where) for a in (x, y, mask))

  k = eval_train_size or len(dataset.train_y)
  return {
      'train': (jax.device_put(dataset.train_x, where), jax.device_put(dataset.train_y, where)),
      'eval': {
          'train': batched(dataset.train_x[:k], dataset.train_y[:k]),
          'val': batched(dataset.val_x, dataset.val_y),
          'test': batched(dataset.test_x, dataset.test_y),
      },
  }


def _model_hparams(group, seeds):
  """Per model (point-major, seed-minor): seed, dropout rate and optimizer numbers."""
  opt_keys = optimizers.numeric_keys(group.config.optimizer)
  rows = []
  for p in group.points:
    cfg = sweep.apply_point(group.config, p)
    for s in seeds:
      rows.append((s, cfg.model.dropout_rate, {k: cfg.optimizer[k] for k in opt_keys}))
  seeds_arr = np.array([r[0] for r in rows], np.uint32)
  rates = np.array([r[1] for r in rows], np.float32)
  opt = {k: np.array([r[2][k] for r in rows], np.float32) for k in opt_keys}
  return seeds_arr, rates, opt


def _metric_names():
  names = ['train_running_loss', 'train_running_accuracy']
  for split in EVAL_SPLITS:
    names += [f'{split}_loss', f'{split}_accuracy']
  return names


def train_options(config) -> tuple[str, int, int]:
  """(order, passes_per_epoch, probe_every_steps) of `config.train`, checked; UserError if bad.

  `order`: 'shuffled' (a fresh permutation each pass) or 'sorted_by_label' (each pass's
  permutation stably sorted by label: all of class 0, then class 1, ...; the data-order
  experiments). `passes_per_epoch`: passes over the training set per epoch, where an epoch is
  what the loop evaluates, probes, logs and records once; many passes of tiny data otherwise
  spend their time in per-epoch evaluation and dispatch. `probe_every_steps`: also run the
  probe after every that many steps into the record's `trace` (0: at epoch ends only).
  """
  order = config.train.get('order', 'shuffled')
  passes = config.train.get('passes_per_epoch', 1)
  every = config.train.get('probe_every_steps', 0)
  if order not in ORDERS:
    raise UserError(f'--config.train.order={order!r} is not a data order; pick one of '
                    f'{", ".join(ORDERS)}.')
  if passes < 1 or every < 0:
    raise UserError(f'--config.train.passes_per_epoch must be at least 1 and '
                    f'--config.train.probe_every_steps at least 0; got {passes} and {every}.')
  return order, passes, every


def epoch_steps(config, n: int) -> int:
  """Steps per epoch: `passes_per_epoch` passes over `n` images, or `train.steps_per_epoch` if > 0.

  An epoch shorter than a pass is evaluated and recorded like any other, so a finding can see
  validation accuracy every few hundred steps (e.g. steps to reach a target); each short epoch
  takes its batches from the front of its own fresh permutation, so no image repeats within it.
  """
  k = config.train.get('steps_per_epoch', 0)
  if k < 0:
    raise UserError(f'--config.train.steps_per_epoch must be 0 (whole passes) or positive; got {k}.')
  full = n // config.train.batch_size * train_options(config)[1]
  return min(k, full) if k else full


def over_models(f, in_axes, single: bool):
  """`jax.vmap(f, in_axes)`, or for a group of one model, `f` on that model with the axis kept.

  A vmap of size 1 still batches every op (dots gain a batch dimension, convolutions become
  grouped), which cost 10% of an MLP step on CPU; one-model groups are the norm for conv nets
  there (`sweep_max_models`).
  """
  if not single:
    return jax.vmap(f, in_axes=in_axes)

  def one(*args):
    args = [a if ax is None else jax.tree.map(lambda x: x[0], a) for a, ax in zip(args, in_axes)]
    return jax.tree.map(lambda x: x[None], f(*args))
  return one


@functools.lru_cache(maxsize=16)
def programs(model, opt_items: tuple, batch_size: int, probe=None, order='shuffled', passes=1,
             dropout=True, single=False, mesh=None):
  """The jitted programs for a model, optimizer, batch size and data order on a device mesh.

  Returns (init, step, steps, eval, permutations, probe): `step` runs one step of every model
  in the group, `steps` a run of them as one `lax.scan`; `permutations` gives each model's
  example order for an epoch of `passes` passes. Every program states its shardings on `mesh`
  (a ('model', 'data') mesh, engine/parallel.py; default: the default device): per-model arrays
  split along 'model', the data replicated, each batch split along 'data'. Cached, so groups of
  the same shape (a capped sweep, a point trained alone) compile once.
  """
  mesh = mesh or parallel.one_device_mesh()
  per_model = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec('model'))
  same = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
  batch_split = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec('model', 'data'))
  eval_split = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec('data'))
  opt_config = dict(opt_items)
  tx = optimizers.make(opt_config)
  train_step = steps_lib.make_train_step(model, tx, dropout)
  eval_step = steps_lib.make_eval_step(model)

  def one_step(state, idx, key, images, labels):
    rng = jax.random.fold_in(jax.random.fold_in(key, _DROPOUT), state.step)
    # Permutation indices are in bounds by construction; saying so drops the gather's bounds
    # handling (bench/STUDY.md, table H: 0-13% of an MLP step on CPU, within run-to-run noise).
    batch = (images.at[idx].get(mode='promise_in_bounds'),
             labels.at[idx].get(mode='promise_in_bounds'))
    return train_step(state, batch, rng)

  def step_body(states, sums, perms, i, keys, images, labels):
    idx = jax.lax.dynamic_slice_in_dim(perms, i * batch_size, batch_size, axis=1)
    idx = jax.lax.with_sharding_constraint(idx, batch_split)
    states, metrics = over_models(one_step, (0, 0, 0, None, None), single)(
        states, idx, keys, images, labels)
    return states, jax.tree.map(jnp.add, sums, metrics)

  group_step = jax.jit(step_body, donate_argnums=(0, 1),
                       in_shardings=(per_model,) * 3 + (same, per_model, same, same),
                       out_shardings=(per_model, per_model))

  @functools.partial(jax.jit, donate_argnums=(0, 1), static_argnums=(3,),
                     in_shardings=(per_model,) * 3 + (same, per_model, same, same),
                     out_shardings=(per_model, per_model))
  def group_steps(states, sums, perms, count, start, keys, images, labels):
    def body(carry, i):
      return step_body(*carry, perms, i, keys, images, labels), None
    carry, _ = jax.lax.scan(body, (states, sums), start + jnp.arange(count))
    return carry

  @functools.partial(jax.jit, in_shardings=(per_model, per_model, same, same, same),
                     out_shardings=per_model)
  def group_eval(states, sums, images, labels, mask):
    if images.shape[0] % mesh.shape['data'] == 0:
      images, labels, mask = (jax.lax.with_sharding_constraint(a, eval_split)
                              for a in (images, labels, mask))
    metrics = over_models(eval_step, (0, None), single)(states, (images, labels, mask))
    return jax.tree.map(jnp.add, sums, metrics)

  @functools.partial(jax.jit, in_shardings=(per_model, per_model, per_model, same),
                     out_shardings=per_model)
  def init(keys, rates, opt_hp, sample_x):
    def one(key, rate, hp):
      tx_m = optimizers.make(opt_config, **hp)
      return state_lib.create(model, tx_m, jax.random.fold_in(key, _INIT), sample_x, rate)
    return jax.vmap(one)(keys, rates, opt_hp)

  group_probe = None
  if probe is not None:
    group_probe = jax.jit(jax.vmap(functools.partial(probe, model), in_axes=(0, None, None)),
                          in_shardings=(per_model, same, same), out_shardings=per_model)

  permutations = _permutations(batch_size, order, passes, mesh)
  return init, group_step, group_steps, group_eval, permutations, group_probe


@functools.lru_cache(maxsize=16)
def _permutations(batch_size: int, order: str, passes: int, mesh=None):
  """The example order of an epoch, per model; one program for every model of that batch size."""
  mesh = mesh or parallel.one_device_mesh()
  per_model = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec('model'))
  same = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())

  @functools.partial(jax.jit, static_argnums=(2,), in_shardings=(per_model, same, same),
                     out_shardings=per_model)
  def program(keys, epoch, n, labels):
    def perm(key, p):
      key = jax.random.fold_in(jax.random.fold_in(key, _SHUFFLE), epoch * passes + p)
      idx = jax.random.permutation(key, n).astype(jnp.int32)
      if order == 'sorted_by_label':
        idx = idx[jnp.argsort(labels[idx], stable=True)]
      return idx[:n // batch_size * batch_size]
    per_pass = jax.vmap(lambda key: jax.vmap(functools.partial(perm, key))(jnp.arange(passes)))
    return per_pass(keys).reshape(keys.shape[0], -1)

  def permutations(keys, epoch, n, labels=None):
    """Pass p of `epoch` is pass `epoch * passes + p` overall; a partial last batch is dropped."""
    return program(keys, epoch, n, labels)
  return permutations


def steps_per_call(config, model_name: str, steps_per_epoch: int) -> int:
  """`config.train.steps_per_call`, with -1 resolved for the backend.

  A whole epoch as one `lax.scan` saves the per-step dispatch, which dominates small models
  (MLP epoch 2x faster on CPU). On XLA:CPU a conv net's backward convolutions fall off the fast
  path inside a loop (12x slower, bench/STUDY.md), so there -1 means one step per call.
  """
  k = config.train.get('steps_per_call', -1)
  if k < 0:
    k = 1 if jax.default_backend() == 'cpu' and model_name in nets.CONV_MODELS else steps_per_epoch
  return max(1, min(k, steps_per_epoch))


def _zero_sums(layout):
  return layout.put({k: np.zeros((layout.models,), np.float32)
                     for k in ('loss_sum', 'correct', 'count')})


def start_group(group, config, images, probe=None, layout=None):
  """What a group's training starts from: (model, programs, keys, initial states, layout).

  `layout` (engine/parallel.py) defaults to the one `config.parallel` gives the group. Shared by
  `train_group` and the benchmark suite (bench/), so both run the same compiled step.
  """
  seed_arr, rates, opt_hp = _model_hparams(group, group.seeds)
  layout = layout or parallel.layout(config, len(seed_arr))
  model = build_model(group.config.model)
  order, passes, _ = train_options(group.config)  # the order may be a sweep axis
  progs = programs(model, tuple(sorted(group.config.optimizer.items())),
                   config.train.batch_size, probe, order, passes, bool(np.any(rates != 0)),
                   layout.padded == 1, layout.mesh)
  keys = layout.put(np.asarray(jax.vmap(jax.random.PRNGKey)(seed_arr)))
  states = progs[0](keys, layout.put(rates), layout.put(opt_hp),
                    jax.device_put(images[:1], layout.sharding()))
  return model, progs, keys, states, layout


def train_group(group, config, device_data, group_dir, *, progress=True, log=print,
                on_epoch=None, probe=None):
  """Trains every (point, seed) of `group`; returns one record per model.

  Checkpoints go to `group_dir/checkpoints` every `config.checkpoint_every_secs` (checked after
  each call of the step program) and after the last epoch; an existing checkpoint is resumed.
  `on_epoch(epoch, row)` receives each epoch's metrics (arrays over the group's models).
  `probe(model, state, train_images, train_labels) -> {name: scalar}`, if given, measures one
  model at each epoch end (vmapped over the group); its values join the history by name, and
  with `config.train.probe_every_steps` also the record's `trace` (see `train_options`).
  `config.early_stopping` (engine/early_stopping.py), if given, keeps each model's weights of its
  best validation epoch up to its stop, evaluates them at the end into the record's
  `early_stopping`, and with `stop_group` ends training once every model has stopped.
  """
  seeds = group.seeds
  m = len(seeds) * len(group.points)
  layout = parallel.layout(config, m)
  device_data = jax.device_put(device_data, layout.sharding())  # a no-op on the run's devices
  images, labels = device_data['train']
  n = int(labels.shape[0])
  every = train_options(config)[2]
  steps_per_epoch = epoch_steps(config, n)
  epochs = config.train.epochs
  _, progs, keys, states, _ = start_group(group, config, images, probe, layout)
  _, group_step, group_steps, group_eval, permutations, group_probe = progs
  if layout.mesh.size > 1:
    log(f'{group.name}: {layout.describe()}.')
  chunk = steps_per_call(config, group.config.model.name, steps_per_epoch)
  every = every if group_probe is not None else 0
  if every:
    chunk = min(chunk, every)

  names = _metric_names()
  if group_probe is not None:
    names += list(jax.eval_shape(group_probe, states, images, labels))
  carry = {  # what a checkpoint holds: the real models only, so any layout can resume it
      'states': layout.trim(states),
      'sums': layout.trim(_zero_sums(layout)),
      'history': {k: np.full((epochs, m), np.nan, np.float32) for k in names},
      'position': np.zeros((2,), np.int64),
  }
  if every:
    carry['trace'] = {k: np.full((epochs * (steps_per_epoch // every), m), np.nan, np.float32)
                      for k in names[len(_metric_names()):]}
  stopper = early_stopping.from_config(config.get('early_stopping'))
  if stopper and stopper.keep_best:
    carry['best'] = layout.trim(_weights(states))
  mngr = checkpoints.manager(os.path.join(group_dir, 'checkpoints'))
  restored_step, carry = checkpoints.restore_latest(mngr, carry)
  carry['history'] = {k: np.asarray(v) for k, v in carry['history'].items()}
  if every:
    carry['trace'] = {k: np.asarray(v) for k, v in carry['trace'].items()}
  epoch, start = (int(x) for x in carry['position'])
  if restored_step is not None:
    log(f'{group.name}: resuming from checkpoint at epoch {epoch}, step {start}.')

  states, sums, best = (layout.spread(carry[k]) if k in carry else None
                        for k in ('states', 'sums', 'best'))
  bar = tqdm.tqdm(total=epochs * steps_per_epoch, initial=epoch * steps_per_epoch + start,
                  desc=f'{group.name} ({m} models)', unit='step',
                  disable=not progress or not distributed.is_writer(),
                  dynamic_ncols=True, leave=False)
  last_save = time.monotonic()
  saved = (epoch, start)
  t0 = time.monotonic()
  done = start

  def snapshot(ep, st):
    return {'states': layout.trim(states), 'sums': layout.trim(sums), 'history': carry['history'],
            'position': np.array([ep, st], np.int64),
            **({'best': layout.trim(best)} if best is not None else {}),
            **({'trace': carry['trace']} if every else {})}

  def stopping(ep):
    """(stop epochs, best epochs, whether the group is done) after `ep` epochs."""
    so_far = {k: v[:ep] for k, v in carry['history'].items()}
    stops, bests = early_stopping.evaluate(stopper, so_far)
    return stops, bests, bool(ep and stopper.stop_group and (stops > 0).all())

  def save(ep, st):
    nonlocal last_save, saved
    checkpoints.save(mngr, ep * steps_per_epoch + st, snapshot(ep, st))
    last_save, saved = time.monotonic(), (ep, st)

  stopped = stopper is not None and stopping(epoch)[2]
  try:
    while epoch < epochs and not stopped:
      perms = permutations(keys, epoch, n, labels)
      i = start
      while i < steps_per_epoch:
        if chunk == 1:
          states, sums = group_step(states, sums, perms, i, keys, images, labels)
          i += 1
        else:
          count = min(chunk, steps_per_epoch - i, every - i % every if every else chunk)
          states, sums = group_steps(states, sums, perms, count, i, keys, images, labels)
          i += count
        done = i
        if every and done % every == 0:
          row = layout.fetch(group_probe(states, images, labels))
          for k, v in row.items():
            carry['trace'][k][epoch * (steps_per_epoch // every) + done // every - 1] = v
        if chunk > 1 or done % 10 == 0 or done == steps_per_epoch:
          jax.block_until_ready(sums['count'])
          bar.update(epoch * steps_per_epoch + done - bar.n)
          if time.monotonic() - last_save > config.checkpoint_every_secs and done < steps_per_epoch:
            save(epoch, done)
      row = _epoch_metrics(group_eval, states, sums, device_data['eval'], layout)
      if group_probe is not None:
        row.update(layout.fetch(group_probe(states, images, labels)))
      for k, v in row.items():
        carry['history'][k][epoch] = v
      epoch, start, done, sums = epoch + 1, 0, 0, _zero_sums(layout)
      if stopper:
        _, bests, stopped = stopping(epoch)
        if best is not None:
          best = _keep(best, _weights(states), layout.put(bests == epoch))
      if epoch == epochs or stopped or time.monotonic() - last_save > config.checkpoint_every_secs:
        save(epoch, 0)
      log(f'{group.name}: epoch {epoch}/{epochs} ' + _summary(row))
      if on_epoch:
        on_epoch(epoch, row)
  except KeyboardInterrupt:
    if done < steps_per_epoch and (epoch, done) != saved:
      try:  # states may be mid-donation if the interrupt hit inside a step; then keep the last save
        save(epoch, done)
      except Exception:  # pylint: disable=broad-except
        log(f'{group.name}: could not save on interrupt; resuming from the last checkpoint.')
    raise
  finally:
    bar.close()
    mngr.close()
  records = _records(group, seeds, {k: v[:epoch] for k, v in carry['history'].items()},
                     time.monotonic() - t0)
  if stopper:
    stops, bests, _ = stopping(epoch)
    kept = None if best is None else _evaluate(
        group_eval, states.replace(**best), device_data['eval'], layout)
    for j, r in enumerate(records):
      r['early_stopping'] = {
          **dataclasses.asdict(stopper), 'stop_epoch': int(stops[j]) or None,
          'best_epoch': int(bests[j]),
          'best': None if kept is None else {k: float(v[j]) for k, v in kept.items()}}
  if every:
    per_epoch = steps_per_epoch // every
    rows = epoch * per_epoch
    step = [r // per_epoch * steps_per_epoch + (r % per_epoch + 1) * every for r in range(rows)]
    for j, r in enumerate(records):
      r['trace'] = {'step': step, **{k: [None if not np.isfinite(x) else float(x)
                                         for x in v[:rows, j]]
                                     for k, v in carry['trace'].items()}}
  return records


def _weights(states):
  return {'params': states.params, 'batch_stats': states.batch_stats}


@jax.jit
def _keep(best, weights, take):
  """Each model's `weights` where `take` (this epoch is its best so far), else the kept ones."""
  def pick(b, w):
    return jnp.where(take.reshape((-1,) + (1,) * (b.ndim - 1)), w, b)
  return jax.tree.map(pick, best, weights)


def _epoch_metrics(group_eval, states, sums, eval_data, layout):
  sums = layout.fetch(sums)
  row = {'train_running_loss': sums['loss_sum'] / sums['count'],
         'train_running_accuracy': sums['correct'] / sums['count']}
  row.update(_evaluate(group_eval, states, eval_data, layout))
  return row


def _evaluate(group_eval, states, eval_data, layout):
  """Loss and accuracy of every model on each eval split."""
  row = {}
  for split in EVAL_SPLITS:
    xs, ys, masks = eval_data[split]
    acc = _zero_sums(layout)
    for b in range(xs.shape[0]):
      acc = group_eval(states, acc, xs[b], ys[b], masks[b])
    acc = layout.fetch(acc)
    row[f'{split}_loss'] = acc['loss_sum'] / acc['count']
    row[f'{split}_accuracy'] = acc['correct'] / acc['count']
  return row


def _summary(row):
  return ' '.join(f'{k}={np.nanmean(v):.4f}' for k, v in row.items() if k.endswith('accuracy'))


def _records(group, seeds, history, seconds):
  records = []
  j = 0
  for p in group.points:
    for s in seeds:
      hist = {k: [None if not np.isfinite(x) else float(x) for x in v[:, j]]
              for k, v in history.items()}
      losses = history['train_running_loss'][:, j]
      bad = np.flatnonzero(~np.isfinite(losses))
      records.append({
          'point': p, 'label': sweep.label(p), 'seed': s, 'group': group.name,
          'diverged': bool(bad.size), 'diverged_epoch': int(bad[0]) + 1 if bad.size else None,
          'history': hist,
          'final': {k: v[-1] for k, v in hist.items()},
      })
      j += 1
  for r in records:
    r['group_seconds'] = seconds
  return records
