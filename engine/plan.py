"""A group's training plan: its config resolved once, before training, into checked numbers.

The loop reads the plan, never the config: what an epoch is, how many steps one program call
runs, the data order, when to probe and to checkpoint, the early-stopping rule and where the
group's models sit on the devices. Every mistake in those keys is found here, up front, as a
UserError naming the fix.
"""

import dataclasses

import jax

import nets
from engine import early_stopping, parallel, sweep
from engine.errors import UserError

ORDERS = ('shuffled', 'sorted_by_label')


@dataclasses.dataclass(frozen=True)
class Plan:
  epochs: int
  batch_size: int
  steps_per_epoch: int  # steps in one epoch, the unit that is evaluated, probed and recorded
  steps_per_call: int  # steps per call of the compiled program (1: the step program)
  order: str  # 'shuffled' or 'sorted_by_label'
  passes_per_epoch: int
  probe_every_steps: int  # 0: probe at epoch ends only (or no probe)
  checkpoint_every_secs: float
  early_stopping: early_stopping.Rule | None
  layout: parallel.Layout
  dropout: bool  # False when every rate of the group is 0: no masks are drawn


@dataclasses.dataclass(frozen=True)
class TrainOptions:
  order: str
  passes_per_epoch: int
  probe_every_steps: int


def train_options(config) -> TrainOptions:
  """The data-order options of `config.train`, checked; UserError if bad.

  `order`: 'shuffled' (a fresh permutation each pass) or 'sorted_by_label' (each pass's
  permutation stably sorted by label: all of class 0, then class 1, ...; the data-order
  findings). `passes_per_epoch`: passes over the training set per epoch; many passes of tiny
  data otherwise spend their time in per-epoch evaluation and dispatch. `probe_every_steps`:
  also run the probe after every that many steps into the record's `trace` (0: epoch ends only).
  """
  options = TrainOptions(
    order=config.train.get('order', 'shuffled'),
    passes_per_epoch=config.train.get('passes_per_epoch', 1),
    probe_every_steps=config.train.get('probe_every_steps', 0),
  )
  if options.order not in ORDERS:
    raise UserError(
      f'--config.train.order={options.order!r} is not a data order; pick one of '
      f'{", ".join(ORDERS)}.'
    )
  if options.passes_per_epoch < 1 or options.probe_every_steps < 0:
    raise UserError(
      '--config.train.passes_per_epoch must be at least 1 and '
      '--config.train.probe_every_steps at least 0; got '
      f'{options.passes_per_epoch} and {options.probe_every_steps}.'
    )
  return options


def epoch_steps(config, n: int) -> int:
  """Steps per epoch: `passes_per_epoch` passes over `n` images, or `train.steps_per_epoch` if > 0.

  An epoch shorter than a pass is evaluated and recorded like any other, so a finding can see
  validation accuracy every few hundred steps (e.g. steps to reach a target); each short epoch
  takes its batches from the front of its own fresh permutation, so no image repeats within it.
  """
  k = config.train.get('steps_per_epoch', 0)
  if k < 0:
    raise UserError(
      f'--config.train.steps_per_epoch must be 0 (whole passes) or positive; got {k}.'
    )
  full = n // config.train.batch_size * train_options(config).passes_per_epoch
  return min(k, full) if k else full


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


def models_per_program(config) -> int:
  """`config.sweep_max_models`, with -1 resolved for the backend.

  On XLA:CPU a conv net vmapped over models becomes a grouped convolution that runs 2.5x slower
  per model than one model per program (bench/STUDY.md), so -1 means one model per program for
  conv nets on CPU and the whole group (0) everywhere else. It does not depend on the device
  count, so a run's groups, and its work dir, are the same on any layout.
  """
  if config.sweep_max_models >= 0:
    return config.sweep_max_models
  return 1 if jax.default_backend() == 'cpu' and config.model.name in nets.CONV_MODELS else 0


def resolve(
  group, n_train: int, *, probe: bool = False, layout: parallel.Layout | None = None
) -> Plan:
  """The plan of `group` (its config is its first point's) over `n_train` training images.

  `layout` defaults to the one `config.parallel` gives the group's models.
  """
  config = group.config
  options = train_options(config)
  spe = epoch_steps(config, n_train)
  every = options.probe_every_steps if probe else 0
  chunk = steps_per_call(config, config.model.name, spe)
  if every:
    chunk = min(chunk, every)
  models = len(group.points) * len(group.seeds)
  rates = [sweep.apply_point(config, p).model.dropout_rate for p in group.points]
  return Plan(
    epochs=config.train.epochs,
    batch_size=config.train.batch_size,
    steps_per_epoch=spe,
    steps_per_call=chunk,
    order=options.order,
    passes_per_epoch=options.passes_per_epoch,
    probe_every_steps=every,
    checkpoint_every_secs=config.checkpoint_every_secs,
    early_stopping=early_stopping.from_config(config.get('early_stopping')),
    layout=layout or parallel.layout(config, models),
    dropout=any(r != 0 for r in rates),
  )
