"""Optimizers from config through optax, with numeric hyperparameters held in the state.

`optax.inject_hyperparams` keeps the learning rate (and every other number) in the optimizer
state instead of the compiled program, so points of a sweep that differ only in such numbers
are one vmapped program. `schedule` names a learning-rate schedule (engine/schedules.py) whose
numbers are optimizer fields too (`decay` for 'time_based_decay'), so they are per model as well.
"""

import inspect

import ml_collections
import optax

from engine import schedules

_BY_NAME = {
  'adam': optax.adam,
  'adamw': optax.adamw,
  'sgd': optax.sgd,
  'rmsprop': optax.rmsprop,
  'adagrad': optax.adagrad,
}
NAMES = tuple(sorted(_BY_NAME))


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


def make(opt_config, **overrides) -> optax.GradientTransformation:
  """Builds `opt_config.name` with its fields; `overrides` may be traced scalars."""
  name = opt_config['name']
  if name not in _BY_NAME:
    raise ValueError(f'Unknown optimizer {name!r}; known: {", ".join(NAMES)}.')
  schedule = opt_config.get('schedule', 'constant')
  kwargs = {k: v for k, v in opt_config.items() if k not in ('name', 'schedule')}
  kwargs.update(overrides)
  if schedule != 'constant':
    missing = [k for k in schedules.get(schedule)[1] if k not in kwargs]
    if missing:
      raise ValueError(f'The schedule {schedule!r} needs optimizer.{", optimizer.".join(missing)}.')
  return optax.inject_hyperparams(_scheduled(name, schedule))(**kwargs)


def learning_rate(opt_config, opt_state):
  """The rate the next update applies: the schedule of the state's numbers at its update count."""
  hp = opt_state.hyperparams
  schedule = opt_config.get('schedule', 'constant')
  if schedule == 'constant':
    return hp['learning_rate']
  factory, arg_names = schedules.get(schedule)
  return factory(hp['learning_rate'], **{k: hp[k] for k in arg_names})(opt_state.count)
