"""Optimizers from config through optax, with numeric hyperparameters held in the state.

`optax.inject_hyperparams` keeps the learning rate (and every other number) in the optimizer
state instead of the compiled program, so points of a sweep that differ only in such numbers
are one vmapped program.
"""
import ml_collections
import optax

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
  return tuple(k for k, v in opt_config.items()
               if k != 'name' and isinstance(v, (int, float)) and not isinstance(v, bool))


def make(opt_config, **overrides) -> optax.GradientTransformation:
  """Builds `opt_config.name` with its fields; `overrides` may be traced scalars."""
  name = opt_config['name']
  if name not in _BY_NAME:
    raise ValueError(f'Unknown optimizer {name!r}; known: {", ".join(NAMES)}.')
  kwargs = {k: v for k, v in opt_config.items() if k != 'name'}
  kwargs.update(overrides)
  return optax.inject_hyperparams(_BY_NAME[name])(**kwargs)
