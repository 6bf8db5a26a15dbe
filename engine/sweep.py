"""Sweep grids: expand `config.sweep` into points and group points that can share one program.

`config.sweep` mirrors the config's own tree; each leaf is a tuple of values for the key at the
same path, e.g. `config.sweep.model.dropout_rate = (0.0, 0.5)`. The grid is their product.
Points that differ only in runtime numbers (dropout rate, optimizer numbers) form one group,
trained together under vmap; any other difference (a layer width, an activation) changes array
shapes or the program, so it starts a new group.
"""

import dataclasses
import difflib
import itertools

import ml_collections

from engine import optimizers
from engine.errors import UserError


@dataclasses.dataclass(frozen=True)
class Group:
  index: int
  points: tuple  # of dicts {dotted key: value}
  seeds: tuple  # the seeds trained for every point of the group
  config: ml_collections.ConfigDict  # the first point's config; traced keys vary per point

  @property
  def name(self) -> str:
    return f'group_{self.index:03d}'


def flatten(tree, prefix=''):
  """`{'a': {'b': 1}}` -> `{'a.b': 1}` for ConfigDicts and dicts."""
  out = {}
  for key, value in tree.items():
    path = f'{prefix}{key}'
    if isinstance(value, (dict, ml_collections.ConfigDict)):
      out.update(flatten(value, path + '.'))
    else:
      out[path] = value
  return out


def _check_key(config, key):
  known = flatten({k: v for k, v in config.items() if k != 'sweep'})
  if key not in known:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f' Did you mean `{close[0]}`?' if close else ''
    raise UserError(
      f'The sweep axis `sweep.{key}` names no config key `{key}`.{hint} Each leaf of '
      '`config.sweep` must mirror a key of the config and hold a tuple of values.'
    )


def points(config) -> list[dict]:
  """All points of the grid, in declaration order (the last axis varies fastest)."""
  axes = flatten(config.get('sweep', {}))
  for key, values in axes.items():
    _check_key(config, key)
    if not isinstance(values, (tuple, list)) or not values:
      raise UserError(f'`sweep.{key}` must be a non-empty tuple of values, got {values!r}.')
  keys = list(axes)
  return [dict(zip(keys, combo)) for combo in itertools.product(*(axes[k] for k in keys))]


def apply_point(config, point: dict) -> ml_collections.ConfigDict:
  cfg = ml_collections.ConfigDict(config.to_dict())
  for key, value in point.items():
    *parents, leaf = key.split('.')
    node = cfg
    for p in parents:
      node = node[p]
    node[leaf] = type(node[leaf])(value) if isinstance(node[leaf], float) else value
  return cfg


def traced_keys(config) -> set[str]:
  """Keys whose values are runtime numbers in the compiled program."""
  return {'model.dropout_rate'} | {
    f'optimizer.{k}' for k in optimizers.numeric_keys(config.optimizer)
  }


def groups(config, max_models: int = 0) -> list[Group]:
  """Groups points by their non-traced values, each with every seed.

  A group of more than `max_models` (points x seeds; 0 = no cap) is split: by points when a
  point's seeds fit, otherwise by seeds too, down to one model per group.
  """
  pts = points(config) or [{}]
  traced = traced_keys(config)
  buckets: dict = {}
  for p in pts:
    sig = tuple(sorted((k, repr(v)) for k, v in p.items() if k not in traced))
    buckets.setdefault(sig, []).append(p)
  seeds = tuple(config.seed + i for i in range(config.seeds))
  out = []
  for members in buckets.values():
    if not max_models or max_models >= len(members) * len(seeds):
      chunks = [(members, seeds)]
    elif max_models >= len(seeds):
      per = max_models // len(seeds)
      chunks = [(members[i : i + per], seeds) for i in range(0, len(members), per)]
    else:
      chunks = [
        ([p], seeds[i : i + max_models]) for p in members for i in range(0, len(seeds), max_models)
      ]
    for chunk, chunk_seeds in chunks:
      out.append(Group(len(out), tuple(chunk), chunk_seeds, apply_point(config, chunk[0])))
  return out


def label(point: dict) -> str:
  return ','.join(f'{k.split(".")[-1]}={v}' for k, v in point.items()) or 'base'
