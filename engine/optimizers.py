"""Optimizers from config through optax, with numeric hyperparameters held in the state.

`optax.inject_hyperparams` keeps the learning rate (and every other number) in the optimizer
state instead of the compiled program, so points of a sweep that differ only in such numbers
are one vmapped program. `schedule` names a learning-rate schedule (engine/schedules.py) whose
numbers are optimizer fields too (`decay` for 'time_based_decay'), so they are per model as well.
`l2_weight_decay` adds Caffe's weight decay (L2 on the gradient) before the optimizer.
"""

import inspect

import jax
import ml_collections
import optax

from engine import freezing, schedules

_BY_NAME = {
  'adam': optax.adam,
  'adamw': optax.adamw,
  'sgd': optax.sgd,
  'rmsprop': optax.rmsprop,
  'adagrad': optax.adagrad,
}
NAMES = tuple(sorted(_BY_NAME))
# Caffe's weight decay: `l2_weight_decay * w` added to the gradient before the optimizer (not
# adamw's decoupled `weight_decay`); `l2_decay_on` says which parameters: 'all' as in Caffe,
# or 'kernels' (weights, not biases) as in the LeNet assignment's train_lenet.m.
L2, L2_ON, L2_TARGETS = 'l2_weight_decay', 'l2_decay_on', ('all', 'kernels')


def numeric_keys(opt_config: ml_collections.ConfigDict) -> tuple[str, ...]:
  """The optimizer fields that may differ within one compiled program."""
  return tuple(
    k
    for k, v in opt_config.items()
    if k not in ('name', 'schedule') and isinstance(v, (int, float)) and not isinstance(v, bool)
  )


def _scheduled(name: str, schedule: str):
  """`optax.<name>` whose learning rate follows `schedule`, taking the schedule's numbers too.

  inject_hyperparams rebuilds the optimizer from the numbers in its state at every update, so the
  schedule closes over each model's own (possibly traced) initial rate and decay.
  """
  base = _BY_NAME[name]
  if schedule == 'constant':
    return base
  factory, arg_names = schedules.get(schedule)
  signature = inspect.signature(base)
  clash = sorted(set(arg_names) & set(signature.parameters))
  if clash:
    raise ValueError(
      f'The schedule {schedule!r} and the optimizer {name!r} both take '
      f'{", ".join(clash)}; pick another optimizer or schedule.'
    )

  def build(**kwargs):
    schedule_args = {k: kwargs.pop(k) for k in arg_names}
    kwargs['learning_rate'] = factory(kwargs['learning_rate'], **schedule_args)
    return base(**kwargs)

  extra = [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY) for k in arg_names]
  build.__signature__ = signature.replace(parameters=[*signature.parameters.values(), *extra])
  return build


def _kernels(params):
  """True at each 'kernel' leaf (weights of dense and conv layers); biases and scales False."""
  return jax.tree_util.tree_map_with_path(
    lambda path, _: getattr(path[-1], 'key', None) == 'kernel', params
  )


def _with_l2(build, on: str):
  """`build`'s optimizer after `optax.add_decayed_weights`, taking `l2_weight_decay` too."""
  signature = inspect.signature(build)
  if L2 in signature.parameters:
    raise ValueError(f'The optimizer already takes {L2}.')

  def with_l2(**kwargs):
    decay = kwargs.pop(L2)
    return optax.chain(
      optax.add_decayed_weights(decay, _kernels if on == 'kernels' else None), build(**kwargs)
    )

  extra = inspect.Parameter(L2, inspect.Parameter.KEYWORD_ONLY)
  with_l2.__signature__ = signature.replace(parameters=[*signature.parameters.values(), extra])
  return with_l2


def make(opt_config, **overrides) -> optax.GradientTransformation:
  """Builds `opt_config.name` with its fields; `overrides` may be traced scalars."""
  name = opt_config['name']
  if name not in _BY_NAME:
    raise ValueError(f'Unknown optimizer {name!r}; known: {", ".join(NAMES)}.')
  schedule = opt_config.get('schedule', 'constant')
  kwargs = {k: v for k, v in opt_config.items() if k not in ('name', 'schedule', L2_ON)}
  kwargs.update(overrides)
  if schedule != 'constant':
    missing = [k for k in schedules.get(schedule)[1] if k not in kwargs]
    if missing:
      raise ValueError(f'The schedule {schedule!r} needs optimizer.{", optimizer.".join(missing)}.')
  factory = _scheduled(name, schedule)
  if L2 in kwargs:
    on = opt_config.get(L2_ON, 'all')
    if on not in L2_TARGETS:
      raise ValueError(f'optimizer.{L2_ON} must be one of {", ".join(L2_TARGETS)}; got {on!r}.')
    factory = _with_l2(factory, on)
  elif L2_ON in opt_config:
    raise ValueError(f'optimizer.{L2_ON} is set but optimizer.{L2} is not.')
  return optax.inject_hyperparams(factory)(**kwargs)


def learning_rate(opt_config, opt_state):
  """The rate the next update applies: the schedule of the state's numbers at its update count."""
  opt_state = freezing.inner_state(opt_state)
  hp = opt_state.hyperparams
  schedule = opt_config.get('schedule', 'constant')
  if schedule == 'constant':
    return hp['learning_rate']
  factory, arg_names = schedules.get(schedule)
  return factory(hp['learning_rate'], **{k: hp[k] for k in arg_names})(opt_state.count)
