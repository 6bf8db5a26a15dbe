"""A run's records pivoted by sweep point, and the one 'mean ± std' of every report.

A record is one trained model: 'point' {dotted config key: value}, 'label', 'seed', 'group',
'diverged', 'history' {metric: per-epoch values, None where not finite} and 'final' {metric:
value}. Findings pivot records here rather than by hand, so that every report leaves out the
same models and computes its spread between seeds the same way.

Statistics: std is the sample standard deviation (ddof=1; 0 for a single value). NaN (and None)
values are left out, so a cell whose diverged seeds were kept still shows the seeds that produced
a number; `n` says how many did. The verdict counts diverged models on its own.
"""

from typing import NamedTuple

import numpy as np


def _hashable(value):
  """A point's value as a dict key: results.json holds the config's tuples as lists."""
  return tuple(map(_hashable, value)) if isinstance(value, (list, tuple)) else value


def _key_of(key):
  if callable(key):
    return key
  if isinstance(key, str):
    return lambda r: _hashable(r['point'][key])
  keys = tuple(key)
  return lambda r: tuple(_hashable(r['point'][k]) for k in keys)


def group_by(records, key, *, include_diverged=False) -> dict:
  """`{key value: [records]}`, sorted by key value; diverged models left out unless included.

  `key` is a dotted config key ('optimizer.learning_rate'), a tuple of them (tuple keys), or a
  function of the record (then, with include_diverged, the items may be anything it accepts).
  """
  key_of = _key_of(key)
  out: dict = {}
  for r in records:
    if include_diverged or not r['diverged']:
      out.setdefault(key_of(r), []).append(r)
  return dict(sorted(out.items(), key=lambda item: item[0]))


def by_point(records, key, value, *, include_diverged=False) -> dict:
  """`{key value: np.ndarray of value per record}`, keyed and filtered as in `group_by`.

  `value` is a metric's name (its final value) or a function of the record; a function returning
  a per-epoch list gives an array (records, epochs). None becomes NaN.
  """
  value_of = (lambda r: r['final'][value]) if isinstance(value, str) else value
  return {
    k: np.asarray([value_of(r) for r in rs], np.float64)
    for k, rs in group_by(records, key, include_diverged=include_diverged).items()
  }


def group_indices(records) -> list[int]:
  """Each record's position within its group: the model's index in the group's checkpoints."""
  seen: dict = {}
  out = []
  for r in records:
    out.append(seen.get(r['group'], 0))
    seen[r['group']] = out[-1] + 1
  return out


class Stats(NamedTuple):
  mean: float
  std: float  # sample standard deviation, ddof=1; 0 for one value
  min: float
  max: float
  n: int  # values that are not NaN

  @property
  def spread(self) -> float:
    """The spread between seeds: max - min (0 for a single seed)."""
    return self.max - self.min

  def format(self, digits: int = 4) -> str:
    return f'{self.mean:.{digits}f} ± {self.std:.{digits}f}'


def stats(values) -> Stats:
  """Mean, sample std (ddof=1), min and max of the values that are not NaN (or None)."""
  x = np.asarray(values, np.float64).ravel()
  x = x[~np.isnan(x)]
  if not len(x):
    nan = float('nan')
    return Stats(nan, nan, nan, nan, 0)
  std = float(np.std(x, ddof=1)) if len(x) > 1 else 0.0
  return Stats(float(np.mean(x)), std, float(np.min(x)), float(np.max(x)), len(x))


def spread(values) -> float:
  """The spread between seeds, max - min over the values that are not NaN (0 for one seed)."""
  return stats(values).spread
