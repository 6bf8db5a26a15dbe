"""Early stopping: at which epoch a rule stops, and which epoch's weights it keeps.

Prechelt ("Early stopping - but when?", 1998) defines the generalization loss
GL(t) = 100 * (E_va(t) / E_opt(t) - 1), with E_opt(t) the lowest validation error up to epoch t,
and stops after the first epoch where GL(t) exceeds a threshold. Plain patience stops after
`patience` epochs without a new lowest validation error (Keras' EarlyStopping, min_delta 0).

The models of a vmapped group cannot leave the program one by one, so the rules here read the
validation curve that the loop records every epoch and say where each model would have stopped;
the loop keeps each model's weights from its best epoch up to that stop (engine/loop.py), which
are the weights a model stopped alone would restore.
"""

import dataclasses

import numpy as np

from engine.errors import UserError

RULES = ('none', 'gl', 'patience')
METRICS = ('val_loss', 'val_error')


@dataclasses.dataclass(frozen=True)
class Rule:
  rule: str  # 'gl' or 'patience'
  metric: str  # the validation error E_va: 'val_loss', or 'val_error' = 1 - val_accuracy
  threshold: float  # GL threshold, in percent
  patience: int
  keep_best: bool  # keep each model's best weights up to its stop (a copy in the loop's state)
  stop_group: bool  # end the group's training once every model has stopped


def from_config(cfg):
  """The Rule of `config.early_stopping`, or None when absent or rule 'none'; UserError if bad."""
  if cfg is None or cfg.get('rule', 'none') == 'none':
    return None
  fields = {f.name for f in dataclasses.fields(Rule)}
  unknown = sorted(set(cfg) - fields)
  if unknown:
    raise UserError(
      f'Unknown early_stopping key(s) {", ".join(unknown)}; the keys are '
      f'{", ".join(sorted(fields))}.'
    )
  rule = Rule(
    rule=cfg.get('rule'),
    metric=cfg.get('metric', 'val_loss'),
    threshold=float(cfg.get('threshold', 5.0)),
    patience=int(cfg.get('patience', 10)),
    keep_best=bool(cfg.get('keep_best', True)),
    stop_group=bool(cfg.get('stop_group', False)),
  )
  if rule.rule not in RULES:
    raise UserError(
      f'--config.early_stopping.rule={rule.rule!r} is not a rule; pick one of '
      f"{', '.join(RULES)} (gl: Prechelt's generalization loss above `threshold` "
      'percent; patience: `patience` epochs without a new best).'
    )
  if rule.metric not in METRICS:
    raise UserError(
      f'--config.early_stopping.metric={rule.metric!r} is not a validation error; '
      f'pick one of {", ".join(METRICS)}.'
    )
  if rule.threshold < 0 or rule.patience < 0:
    raise UserError(
      '--config.early_stopping.threshold and .patience must be at least 0; got '
      f'{rule.threshold} and {rule.patience}.'
    )
  return rule


def validation_errors(history, metric: str) -> np.ndarray:
  """E_va per epoch from a history of arrays (epochs, ...): the loss, or 1 - accuracy."""
  if metric == 'val_error':
    return 1.0 - np.asarray(history['val_accuracy'], np.float64)
  return np.asarray(history[metric], np.float64)


def generalization_loss(errors) -> np.ndarray:
  """GL(t) = 100 * (E_va(t) / E_opt(t) - 1) along axis 0 (epochs); 0 where both are 0.

  A rise from a perfect E_opt of 0 is an infinite loss of generalization.
  """
  e = np.asarray(errors, np.float64)
  best = np.minimum.accumulate(e, axis=0)
  with np.errstate(divide='ignore', invalid='ignore'):
    gl = 100.0 * (e / best - 1.0)
  return np.where((best == 0) & (e == 0), 0.0, np.where(best == 0, np.inf, gl))


def stop_epochs(errors, *, rule: str, threshold: float = 5.0, patience: int = 10) -> np.ndarray:
  """The 1-based epoch after which each model stops, 0 where it never stops; axis 0 is epochs.

  gl: the first epoch with GL(t) > threshold. patience: the first epoch that is `patience`
  epochs after the last new lowest error (strictly lower than every earlier one); patience 0
  stops at the first epoch without a new lowest error, as Keras does.
  """
  e = np.asarray(errors, np.float64)
  if not len(e):
    return np.zeros(e.shape[1:], np.int64)
  if rule == 'gl':
    hit = generalization_loss(e) > threshold
  elif rule == 'patience':
    t = np.arange(len(e)).reshape((-1,) + (1,) * (e.ndim - 1))
    best = np.minimum.accumulate(e, axis=0)
    improved = np.concatenate([np.ones_like(e[:1], bool), e[1:] < best[:-1]], axis=0)
    last_best = np.maximum.accumulate(np.where(improved, t, 0), axis=0)
    hit = t - last_best >= max(patience, 1)
  else:
    raise ValueError(f'Unknown early-stopping rule {rule!r}; known: gl, patience.')
  return np.where(hit.any(axis=0), hit.argmax(axis=0) + 1, 0)


def best_epochs(errors, stops) -> np.ndarray:
  """The 1-based epoch of the lowest error up to each model's stop (the whole run where 0)."""
  e = np.asarray(errors, np.float64)
  if not len(e):
    return np.zeros(e.shape[1:], np.int64)
  t = np.arange(1, len(e) + 1).reshape((-1,) + (1,) * (e.ndim - 1))
  seen = (t <= np.where(stops > 0, stops, len(e))) & np.isfinite(e)
  return np.argmin(np.where(seen, e, np.inf), axis=0) + 1


def evaluate(rule: Rule, history) -> tuple[np.ndarray, np.ndarray]:
  """(stop epochs, best epochs) of every model from the epochs recorded in `history` so far."""
  e = validation_errors(history, rule.metric)
  stops = stop_epochs(e, rule=rule.rule, threshold=rule.threshold, patience=rule.patience)
  return stops, best_epochs(e, stops)
