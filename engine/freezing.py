"""Frozen parameters: subtrees selected by module-path patterns that the optimizer never moves.

`config.transfer.freeze` holds glob patterns (fnmatch) over module paths such as 'Conv_0',
'Conv_*' or 'Dense_0/kernel'; a pattern selects every parameter whose path, or a prefix of it,
matches. `optax.multi_transform` sends the selected leaves to `optax.set_to_zero()` and the rest
to the optimizer, which it wraps in `optax.masked`: frozen parameters get exact zero updates
(bit-identical after training) and no optimizer state (their moments are `optax.MaskedNode`s,
not arrays). A pattern that selects nothing is an error, since it is almost always a typo.
"""

import fnmatch

import jax
import optax

from engine.errors import UserError

TRAINED, FROZEN = 'trained', 'frozen'


def path_of(keypath) -> str:
  """'Conv_0/kernel' for the key path of a leaf of a params tree."""
  return '/'.join(str(getattr(k, 'key', getattr(k, 'name', k))) for k in keypath)


def selects(pattern: str, path: str) -> bool:
  """Whether `pattern` matches `path` or one of its module prefixes ('Conv_0' of 'Conv_0/bias')."""
  parts = path.split('/')
  return any(fnmatch.fnmatchcase('/'.join(parts[:i]), pattern) for i in range(1, len(parts) + 1))


def patterns(config) -> tuple[str, ...]:
  """The freeze patterns of `config` (`transfer.freeze`), () when it has none."""
  transfer = config.get('transfer') if hasattr(config, 'get') else None
  return tuple(transfer.get('freeze', ())) if transfer is not None else ()


def paths(params) -> list[str]:
  return [path_of(kp) for kp, _ in jax.tree_util.tree_flatten_with_path(params)[0]]


def labels(params, freeze):
  """`params` with each leaf replaced by FROZEN or TRAINED; UserError for an idle pattern."""
  names = paths(params)
  idle = [p for p in freeze if not any(selects(p, n) for n in names)]
  if idle:
    modules = sorted({n.split('/')[0] for n in names})
    raise UserError(
      f'The freeze pattern(s) {", ".join(map(repr, idle))} (config.transfer.freeze) match no '
      f'parameter of the model, whose modules are {", ".join(modules)}. Patterns are globs '
      "over module paths ('Conv_0', 'Conv_*', 'Dense_1/kernel'); fix or drop them."
    )
  return jax.tree_util.tree_map_with_path(
    lambda kp, _: FROZEN if any(selects(p, path_of(kp)) for p in freeze) else TRAINED, params
  )


def frozen_paths(params, freeze) -> list[str]:
  """The paths of the parameters `freeze` selects, in tree order."""
  flat = jax.tree_util.tree_flatten_with_path(labels(params, freeze))[0]
  return [path_of(kp) for kp, label in flat if label == FROZEN]


def wrap(tx: optax.GradientTransformation, freeze) -> optax.GradientTransformation:
  """`tx` on the parameters `freeze` does not select; zero updates and no state for the rest."""
  freeze = tuple(freeze)
  if not freeze:
    return tx
  return optax.multi_transform(
    {TRAINED: tx, FROZEN: optax.set_to_zero()}, lambda params: labels(params, freeze)
  )


def inner_state(opt_state, label: str = TRAINED):
  """The state of the optimizer itself inside a `wrap`ped state (the state unchanged if bare)."""
  if isinstance(opt_state, optax.MultiTransformState):
    opt_state = opt_state.inner_states[label]
  if isinstance(opt_state, optax.MaskedState):
    opt_state = opt_state.inner_state
  return opt_state
