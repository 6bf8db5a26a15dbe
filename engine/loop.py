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
import typing

import jax
import jax.numpy as jnp
import numpy as np
import tqdm

import nets
from data import aligned
from data import augment as augment_lib
from engine import (
  checkpoints,
  cpu_setup,
  distributed,
  early_stopping,
  freezing,
  optimizers,
  parallel,
  periodic,
  preemption,
  pretrained,
  sweep,
  verdict,
)
from engine import state as state_lib
from engine import steps as steps_lib
from engine.plan import Plan

EVAL_SPLITS = ('train', 'val', 'test')
_INIT, _SHUFFLE, _DROPOUT, _AUGMENT = 0, 1, 2, 3


def build_model(model_config):
  fields = {k: v for k, v in model_config.items() if k not in ('name', 'dropout_rate')}
  return nets.build(model_config.name, **fields)


def _padded(a: np.ndarray, rows: int) -> np.ndarray:
  """`a` with zero rows appended up to `rows`; `a` itself (no copy) when it has them."""
  if len(a) == rows:
    return a
  out = aligned.empty((rows,) + a.shape[1:], a.dtype)
  out[: len(a)], out[len(a) :] = a, 0
  out.flags.writeable = False
  return out


def put_on_device(dataset, eval_train_size: int, eval_batch_size: int, devices=None):
  """Train arrays as they are; eval splits padded into equal batches with a mask.

  Every array is replicated on each of `devices` (default: the default device), so a batch of
  any layout (engine/parallel.py) is gathered where it is used. The train split is evaluated on
  its first `eval_train_size` images (0 = all), enough to measure under- vs over-fitting
  without re-reading every image each epoch.
  """
  where = None
  if devices is not None:
    where = jax.sharding.NamedSharding(
      jax.sharding.Mesh(np.array(devices), ('all',)), jax.sharding.PartitionSpec()
    )

  put = lambda a: jax.device_put(aligned.frozen(a), where)  # in place on CPU: data/aligned.py

  def batched(x, y):
    n = len(y)
    nb = -(-n // eval_batch_size)
    mask = np.arange(nb * eval_batch_size) < n
    shape = (nb, eval_batch_size)
    return tuple(
      put(_padded(a, nb * eval_batch_size).reshape(shape + a.shape[1:])) for a in (x, y, mask)
    )

  k = eval_train_size or len(dataset.train_y)
  return {
    'train': (put(dataset.train_x), put(dataset.train_y)),
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


def over_models(f, in_axes, single: bool):
  """`jax.vmap(f, in_axes)`, or for a group of one model, `f` on that model with the axis kept.

  A vmap of size 1 still batches every op (dots gain a batch dimension, convolutions become
  grouped), which cost 10% of an MLP step on CPU; one-model groups are the norm for conv nets
  there (`sweep_max_models`). The train steps drop the axis once per call instead
  (`model_steps` in `programs`).
  """
  if not single:
    return jax.vmap(f, in_axes=in_axes)

  def one(*args):
    args = [a if ax is None else jax.tree.map(lambda x: x[0], a) for a, ax in zip(args, in_axes)]
    return jax.tree.map(lambda x: x[None], f(*args))

  return one


class Programs(typing.NamedTuple):
  """The compiled programs of a group; each takes and returns arrays over the group's models."""

  init: typing.Callable  # (keys, rates, optimizer numbers, sample images) -> states
  step: typing.Callable  # (states, sums, perms, i, keys, images, labels) -> (states, sums)
  steps: typing.Callable  # the same for `count` steps from `start`, as one lax.scan
  eval: typing.Callable  # (states, sums, images, labels, mask) -> sums
  permutations: typing.Callable  # (keys, epoch, n, labels) -> each model's order of the epoch
  probe: typing.Callable | None  # (states, images, labels) -> {name: per-model values}


@functools.lru_cache(maxsize=16)
def programs(
  model,
  opt_items: tuple,
  batch_size: int,
  probe=None,
  order='shuffled',
  passes=1,
  dropout=True,
  single=False,
  mesh=None,
  freeze=(),
  augment: augment_lib.Spec | None = None,
) -> Programs:
  """The jitted programs for a model, optimizer, batch size and data order on a device mesh.

  Every program states its shardings on `mesh` (a ('model', 'data') mesh, engine/parallel.py;
  default: the default device): per-model arrays split along 'model', the data replicated, each
  batch split along 'data'. `freeze`: patterns of parameters that do not train
  (engine/freezing.py). Cached, so groups of the same shape (a capped sweep, a point trained
  alone) compile once. `augment` (data/augment.py) crops, flips and normalizes each training
  batch inside the step, from the model's key and the step, and normalizes the evaluated ones.
  """
  mesh = mesh or parallel.one_device_mesh()
  per_model = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec('model'))
  same = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
  batch_split = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec('model', 'data'))
  eval_split = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec('data'))
  opt_config = dict(opt_items)
  tx = freezing.wrap(optimizers.make(opt_config), freeze)
  train_step = steps_lib.make_train_step(model, tx, dropout)
  eval_step = steps_lib.make_eval_step(model)

  def one_step(state, idx, key, images, labels):
    rng = jax.random.fold_in(jax.random.fold_in(key, _DROPOUT), state.step)
    # Permutation indices are in bounds by construction; saying so drops the gather's bounds
    # handling (bench/STUDY.md, table H: 0-13% of an MLP step on CPU, within run-to-run noise).
    batch = (
      images.at[idx].get(mode='promise_in_bounds'),
      labels.at[idx].get(mode='promise_in_bounds'),
    )
    if augment is not None:
      aug_key = jax.random.fold_in(jax.random.fold_in(key, _AUGMENT), state.step)
      batch = (augment_lib.train_images(aug_key, batch[0], augment), batch[1])
    return train_step(state, batch, rng)

  def model_steps(states, sums, perms, indices, keys, images, labels):
    """The steps `indices` of every model; for a group of one, on that model's own arrays.

    Dropping the models axis once per call instead of once per step saves a fifth of an MLP
    step on CPU (bench/STUDY.md, "The MLP epoch"); the values are the same.
    """
    split, step = batch_split, jax.vmap(one_step, in_axes=(0, 0, 0, None, None))
    if single:
      states, sums, perms, keys = jax.tree.map(lambda x: x[0], (states, sums, perms, keys))
      split, step = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec('data')), one_step

    def body(carry, i):
      states, sums = carry
      idx = jax.lax.dynamic_slice_in_dim(perms, i * batch_size, batch_size, axis=perms.ndim - 1)
      idx = jax.lax.with_sharding_constraint(idx, split)
      states, metrics = step(states, idx, keys, images, labels)
      return (states, jax.tree.map(jnp.add, sums, metrics)), None

    if jnp.ndim(indices) == 0:
      carry = body((states, sums), indices)[0]
    else:
      carry = jax.lax.scan(body, (states, sums), indices)[0]
    return jax.tree.map(lambda x: x[None], carry) if single else carry

  model_options = cpu_setup.model_compiler_options(model)
  group_step = jax.jit(
    model_steps,
    compiler_options=model_options,
    donate_argnums=(0, 1),
    in_shardings=(per_model,) * 3 + (same, per_model, same, same),
    out_shardings=(per_model, per_model),
  )

  @functools.partial(
    jax.jit,
    compiler_options=model_options,
    donate_argnums=(0, 1),
    static_argnums=(3,),
    in_shardings=(per_model,) * 3 + (same, per_model, same, same),
    out_shardings=(per_model, per_model),
  )
  def group_steps(states, sums, perms, count, start, keys, images, labels):
    return model_steps(states, sums, perms, start + jnp.arange(count), keys, images, labels)

  @functools.partial(
    jax.jit,
    compiler_options=model_options,
    in_shardings=(per_model, per_model, same, same, same),
    out_shardings=per_model,
  )
  def group_eval(states, sums, images, labels, mask):
    if images.shape[0] % mesh.shape['data'] == 0:
      images, labels, mask = (
        jax.lax.with_sharding_constraint(a, eval_split) for a in (images, labels, mask)
      )
    if augment is not None:
      images = augment_lib.eval_images(images, augment)
    metrics = over_models(eval_step, (0, None), single)(states, (images, labels, mask))
    return jax.tree.map(jnp.add, sums, metrics)

  @functools.partial(
    jax.jit,
    in_shardings=(per_model, per_model, per_model, same),
    out_shardings=per_model,
    compiler_options=cpu_setup.one_off_compiler_options(),
  )
  def init(keys, rates, opt_hp, sample_x):
    def one(key, rate, hp):
      tx_m = freezing.wrap(optimizers.make(opt_config, **hp), freeze)
      return state_lib.create(model, tx_m, jax.random.fold_in(key, _INIT), sample_x, rate)

    return jax.vmap(one)(keys, rates, opt_hp)

  group_probe = None
  if probe is not None:
    group_probe = jax.jit(
      jax.vmap(functools.partial(probe, model), in_axes=(0, None, None)),
      in_shardings=(per_model, same, same),
      out_shardings=per_model,
    )

  return Programs(
    init,
    group_step,
    group_steps,
    group_eval,
    _permutations(batch_size, order, passes, mesh),
    group_probe,
  )


@functools.lru_cache(maxsize=16)
def _permutations(batch_size: int, order: str, passes: int, mesh=None):
  """The example order of an epoch, per model; one program for every model of that batch size."""
  mesh = mesh or parallel.one_device_mesh()
  per_model = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec('model'))
  same = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())

  @functools.partial(
    jax.jit,
    static_argnums=(2,),
    in_shardings=(per_model, same, same),
    out_shardings=per_model,
    compiler_options=cpu_setup.one_off_compiler_options(),
  )
  def program(keys, epoch, n, labels):
    def perm(key, p):
      key = jax.random.fold_in(jax.random.fold_in(key, _SHUFFLE), epoch * passes + p)
      idx = jax.random.permutation(key, n).astype(jnp.int32)
      if order == 'sorted_by_label':
        idx = idx[jnp.argsort(labels[idx], stable=True)]
      return idx[: n // batch_size * batch_size]

    per_pass = jax.vmap(lambda key: jax.vmap(functools.partial(perm, key))(jnp.arange(passes)))
    return per_pass(keys).reshape(keys.shape[0], -1)

  def permutations(keys, epoch, n, labels=None):
    """Pass p of `epoch` is pass `epoch * passes + p` overall; a partial last batch is dropped."""
    return program(keys, epoch, n, labels)

  return permutations


def zero_sums(layout):
  """Empty running sums (loss, correct, count) of every model, laid out like the models."""
  return layout.put(
    {k: np.zeros((layout.models,), np.float32) for k in ('loss_sum', 'correct', 'count')}
  )


class GroupStart(typing.NamedTuple):
  """What a group's training starts from."""

  model: typing.Any  # the linen module
  programs: Programs
  keys: jax.Array  # each model's PRNG key (from its seed)
  states: typing.Any  # the initial TrainStates, stacked over the models
  layout: parallel.Layout


def start_group(group, plan: Plan, images, probe=None) -> GroupStart:
  """The programs and initial states of `group` under `plan`.

  Shared by `train_group`, the batch-norm analyses and the benchmark suite (bench/), so all of
  them run the same compiled step. `config.transfer`, where a finding has it, freezes parameters
  and starts them from another run or a Keras file (engine/freezing.py, engine/pretrained.py).
  """
  seed_arr, rates, opt_hp = _model_hparams(group, group.seeds)
  layout = plan.layout
  model = build_model(group.config.model)
  progs = programs(
    model,
    tuple(sorted(group.config.optimizer.items())),
    plan.batch_size,
    probe,
    plan.order,
    plan.passes_per_epoch,
    plan.dropout,
    layout.padded == 1,
    layout.mesh,
    freezing.patterns(group.config),
    augment_lib.from_config(group.config.get('augment')),
  )
  keys = layout.put(np.asarray(jax.vmap(jax.random.PRNGKey)(seed_arr)))
  states = progs.init(
    keys, layout.put(rates), layout.put(opt_hp), jax.device_put(images[:1], layout.sharding())
  )
  states = pretrained.apply(group, layout, states)
  return GroupStart(model, progs, keys, states, layout)


@dataclasses.dataclass
class _Training:
  """Where a group's training is: the device arrays and the host record of every epoch so far.

  `history` holds each metric per (epoch, model), `trace` the probe per (probe point, model);
  `epoch` and `step` are the position: `step` steps into epoch `epoch` (0-based).
  """

  states: typing.Any
  sums: typing.Any
  best: typing.Any  # each model's best-validation weights so far (early stopping), or None
  history: dict
  trace: dict | None
  epoch: int = 0
  step: int = 0

  def checkpoint(self, layout) -> dict:
    """What a checkpoint holds: the real models only, so any layout can resume it."""
    tree = {
      'states': layout.trim(self.states),
      'sums': layout.trim(self.sums),
      'history': self.history,
      'position': np.array([self.epoch, self.step], np.int64),
    }
    if self.best is not None:
      tree['best'] = layout.trim(self.best)
    if self.trace is not None:
      tree['trace'] = self.trace
    return tree

  @classmethod
  def from_checkpoint(cls, tree, layout) -> '_Training':
    epoch, step = (int(x) for x in tree['position'])
    return cls(
      states=layout.spread(tree['states']),
      sums=layout.spread(tree['sums']),
      best=layout.spread(tree['best']) if 'best' in tree else None,
      history={k: np.asarray(v) for k, v in tree['history'].items()},
      trace=({k: np.asarray(v) for k, v in tree['trace'].items()} if 'trace' in tree else None),
      epoch=epoch,
      step=step,
    )


def _fresh(plan: Plan, start: GroupStart, names, probe_names) -> _Training:
  m = start.layout.models
  every = plan.probe_every_steps
  return _Training(
    states=start.states,
    sums=zero_sums(start.layout),
    best=(
      _weights(start.states) if plan.early_stopping and plan.early_stopping.keep_best else None
    ),
    history={k: np.full((plan.epochs, m), np.nan, np.float32) for k in names},
    trace=(
      {
        k: np.full((plan.epochs * (plan.steps_per_epoch // every), m), np.nan, np.float32)
        for k in probe_names
      }
      if every
      else None
    ),
  )


def _stops(plan: Plan, t: _Training):
  """(stop epochs, best epochs, whether every model has stopped and the group may end)."""
  rule = plan.early_stopping
  stops, bests = early_stopping.evaluate(rule, {k: v[: t.epoch] for k, v in t.history.items()})
  return stops, bests, bool(t.epoch and rule.stop_group and (stops > 0).all())


def _run_epoch_steps(plan: Plan, start: GroupStart, t: _Training, images, labels, *, on_call):
  """Trains `t` from its step to the end of its epoch; `on_call()` after each program call."""
  progs, every = start.programs, plan.probe_every_steps
  perms = progs.permutations(start.keys, t.epoch, int(labels.shape[0]), labels)
  while t.step < plan.steps_per_epoch:
    # A call donates the states it is given: an interrupt between the call and the assignment
    # would leave `t` holding deleted buffers, so it waits until both are done.
    with preemption.deferred():
      if plan.steps_per_call == 1:
        t.states, t.sums = progs.step(t.states, t.sums, perms, t.step, start.keys, images, labels)
        t.step += 1
      else:
        count = min(
          plan.steps_per_call,
          plan.steps_per_epoch - t.step,
          every - t.step % every if every else plan.steps_per_call,
        )
        t.states, t.sums = progs.steps(
          t.states, t.sums, perms, count, t.step, start.keys, images, labels
        )
        t.step += count
    on_call()


def _close_epoch(plan: Plan, start: GroupStart, t: _Training, device_data) -> tuple[dict, bool]:
  """Evaluates and records the epoch just trained, moves `t` to the next; (row, stopped).

  An interrupt during the evaluation leaves `t` at the end of its epoch, a position a checkpoint
  can hold (a resume evaluates again); the bookkeeping after it is not interrupted.
  """
  layout, progs = start.layout, start.programs
  row = _epoch_metrics(progs.eval, t.states, t.sums, device_data['eval'], layout)
  if progs.probe is not None:
    row.update(layout.fetch(progs.probe(t.states, *device_data['train'])))
  with preemption.deferred():
    for k, v in row.items():
      t.history[k][t.epoch] = v
    t.epoch, t.step, t.sums = t.epoch + 1, 0, zero_sums(layout)
    stopped = False
    if plan.early_stopping:
      _, bests, stopped = _stops(plan, t)
      if t.best is not None:
        t.best = jax.block_until_ready(
          _keep(t.best, _weights(t.states), layout.put(bests == t.epoch))
        )
  return row, stopped


def train_group(
  group, plan: Plan, device_data, group_dir, *, progress=True, log=print, on_epoch=None, probe=None
):
  """Trains every (point, seed) of `group` as `plan` says; returns one record per model.

  Checkpoints go to `group_dir/checkpoints` at every epoch end, within an epoch once
  `plan.checkpoint_every_secs` have passed (orbax's save-decision policy, checked after each
  program call), and on Ctrl-C or SIGTERM (engine/preemption.py) at the exact step, during an
  epoch-end evaluation too; the newest usable checkpoint is resumed (engine/checkpoints.py).
  `on_epoch(epoch, row)` receives each epoch's metrics
  (arrays over the group's models). `probe(model, state, train_images, train_labels) ->
  {name: scalar}`, if given, measures each model at each epoch end (and every
  `plan.probe_every_steps` steps, into the record's `trace`); its values join the history.
  `plan.early_stopping`, if set, keeps each model's weights of its best validation epoch up to
  its stop, evaluates them at the end into the record's `early_stopping`, and with `stop_group`
  ends training once every model has stopped.
  """
  layout = plan.layout
  device_data = jax.device_put(device_data, layout.sharding())  # a no-op on the run's devices
  images, labels = device_data['train']
  start = start_group(group, plan, images, probe)
  if layout.mesh.size > 1:
    log(f'{group.name}: {layout.describe()}.')
  probe_names = (
    []
    if start.programs.probe is None
    else list(jax.eval_shape(start.programs.probe, start.states, images, labels))
  )
  mngr = checkpoints.manager(
    os.path.join(group_dir, 'checkpoints'), every_secs=plan.checkpoint_every_secs
  )
  t = _fresh(plan, start, _metric_names() + probe_names, probe_names)
  initial = _initial_loss(start, device_data)
  restored_step, tree = checkpoints.restore_latest(mngr, t.checkpoint(layout), log=log)
  t = _Training.from_checkpoint(tree, layout)  # fresh buffers, so `best` outlives donated states
  if restored_step is not None:
    log(f'{group.name}: resuming from checkpoint at epoch {t.epoch}, step {t.step}.')
  spe, every = plan.steps_per_epoch, plan.probe_every_steps
  bar = tqdm.tqdm(
    total=plan.epochs * spe,
    initial=t.epoch * spe + t.step,
    desc=f'{group.name} ({layout.models} models)',
    unit='step',
    disable=not progress or not distributed.is_writer(),
    dynamic_ncols=True,
    leave=False,
  )
  probe_due = periodic.Every(steps=every)
  show_due = periodic.Every(steps=1 if plan.steps_per_call > 1 else 10)
  saved = (t.epoch, t.step)
  # Step ids of checkpoints: the end of epoch e before its evaluation (e, spe) and the start of
  # epoch e + 1 after it are different checkpoints, so ids count spe + 1 positions per epoch.
  position_id = lambda: t.epoch * (spe + 1) + t.step

  def save():
    nonlocal saved
    checkpoints.save(mngr, position_id(), t.checkpoint(layout))
    saved = (t.epoch, t.step)

  def after_call():
    if every and probe_due.due(t.step):
      row = layout.fetch(start.programs.probe(t.states, images, labels))
      for k, v in row.items():
        t.trace[k][t.epoch * (spe // every) + t.step // every - 1] = v
    agreed = preemption.sync_point()  # after every call, in every process of a job alike
    if agreed or show_due.due(t.step) or t.step == spe:
      jax.block_until_ready(t.sums['count'])
      bar.update(t.epoch * spe + t.step - bar.n)
      if t.step < spe and mngr.should_save(position_id()):
        save()
      if agreed:
        raise preemption.Preempted()  # saved below if not just now

  t0 = time.monotonic()
  stopped = plan.early_stopping is not None and _stops(plan, t)[2]
  try:
    while t.epoch < plan.epochs and not stopped:
      _run_epoch_steps(plan, start, t, images, labels, on_call=after_call)
      row, stopped = _close_epoch(plan, start, t, device_data)
      with preemption.deferred():  # the epoch's events are on disk before its checkpoint
        if on_epoch:
          on_epoch(t.epoch, row)
          getattr(on_epoch, 'flush', lambda: None)()
        save()
      log(f'{group.name}: epoch {t.epoch}/{plan.epochs} ' + _summary(row))
  except KeyboardInterrupt as stop:
    if (t.epoch, t.step) != saved:
      try:
        save()
      except Exception as e:  # pylint: disable=broad-except
        log(f'{group.name}: could not save on interrupt ({e}); the last checkpoint is kept.')
    if position_id() in mngr.all_steps():
      why = 'preempted' if isinstance(stop, preemption.Preempted) else 'interrupted'
      log(f'{group.name}: {why}; saved at epoch {t.epoch}, step {t.step}.')
    raise
  finally:
    bar.close()
    mngr.close()
  return _group_records(group, plan, start, t, device_data, time.monotonic() - t0, initial)


def _initial_loss(start: GroupStart, device_data) -> dict:
  """Each model's loss and accuracy before training, on the first evaluation batch of the
  training images: what `exploded` compares the losses with. The initial weights follow from
  the seeds, so a resumed run measures the same numbers."""
  xs, ys, masks = device_data['eval']['train']
  acc = start.layout.fetch(
    start.programs.eval(start.states, zero_sums(start.layout), xs[0], ys[0], masks[0])
  )
  return {
    'train_loss': acc['loss_sum'] / acc['count'],
    'train_accuracy': acc['correct'] / acc['count'],
  }


def _group_records(
  group, plan: Plan, start: GroupStart, t: _Training, device_data, seconds, initial=None
):
  """One record per model: its history, and its early stop and probe trace where there are."""
  records = _records(
    group, group.seeds, {k: v[: t.epoch] for k, v in t.history.items()}, seconds, initial
  )
  rule = plan.early_stopping
  if rule:
    stops, bests, _ = _stops(plan, t)
    kept = (
      None
      if t.best is None
      else _evaluate(
        start.programs.eval, t.states.replace(**t.best), device_data['eval'], start.layout
      )
    )
    for j, r in enumerate(records):
      r['early_stopping'] = {
        **dataclasses.asdict(rule),
        'stop_epoch': int(stops[j]) or None,
        'best_epoch': int(bests[j]),
        'best': None if kept is None else {k: float(v[j]) for k, v in kept.items()},
      }
  every = plan.probe_every_steps
  if every:
    per_epoch = plan.steps_per_epoch // every
    rows = t.epoch * per_epoch
    step = [
      r // per_epoch * plan.steps_per_epoch + (r % per_epoch + 1) * every for r in range(rows)
    ]
    for j, r in enumerate(records):
      r['trace'] = {
        'step': step,
        **{
          k: [None if not np.isfinite(x) else float(x) for x in v[:rows, j]]
          for k, v in t.trace.items()
        },
      }
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
  row = {
    'train_running_loss': sums['loss_sum'] / sums['count'],
    'train_running_accuracy': sums['correct'] / sums['count'],
  }
  row.update(_evaluate(group_eval, states, eval_data, layout))
  return row


def _evaluate(group_eval, states, eval_data, layout):
  """Loss and accuracy of every model on each eval split."""
  row = {}
  for split in EVAL_SPLITS:
    xs, ys, masks = eval_data[split]
    acc = zero_sums(layout)
    for b in range(xs.shape[0]):
      acc = group_eval(states, acc, xs[b], ys[b], masks[b])
    acc = layout.fetch(acc)
    row[f'{split}_loss'] = acc['loss_sum'] / acc['count']
    row[f'{split}_accuracy'] = acc['correct'] / acc['count']
  return row


def _summary(row):
  return ' '.join(f'{k}={np.nanmean(v):.4f}' for k, v in row.items() if k.endswith('accuracy'))


def _records(group, seeds, history, seconds, initial=None):
  records = []
  j = 0
  for p in group.points:
    for s in seeds:
      hist = {
        k: [None if not np.isfinite(x) else float(x) for x in v[:, j]] for k, v in history.items()
      }
      losses = history['train_running_loss'][:, j]
      bad = np.flatnonzero(~np.isfinite(losses))
      start = None if initial is None else {k: float(v[j]) for k, v in initial.items()}
      huge = np.array([], int)
      if start is not None:
        worst = np.fmax(losses, history.get('train_loss', losses)[:, j])
        huge = np.flatnonzero(
          np.isfinite(worst) & (worst > verdict.EXPLODED * max(abs(start['train_loss']), 1e-6))
        )
      records.append(
        {
          'point': p,
          'label': sweep.label(p),
          'seed': s,
          'group': group.name,
          'diverged': bool(bad.size),
          'diverged_epoch': int(bad[0]) + 1 if bad.size else None,
          'initial': start,
          'exploded': bool(huge.size),
          'exploded_epoch': int(huge[0]) + 1 if huge.size else None,
          'history': hist,
          'final': {k: v[-1] for k, v in hist.items()},
        }
      )
      j += 1
  for r in records:
    r['group_seconds'] = seconds
  return records
