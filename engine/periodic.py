"""Periodic work in the loop (checkpoints, probes, progress) through one small helper.

Each kind of periodic work says once how often it is due, instead of conditions written out at
each place it may happen; in the spirit of big_vision's periodic actions.
"""

import time


class Every:
  """Due every `steps` steps (0: never by count) or once `seconds` have passed since `reset`.

  `seconds=None` never fires by time; `seconds=0` fires at every check.
  """

  def __init__(self, *, steps: int = 0, seconds: float | None = None, clock=time.monotonic):
    self.steps, self.seconds, self._clock = steps, seconds, clock
    self._last = clock()

  def due(self, step: int | None = None) -> bool:
    if self.steps and step is not None and step % self.steps == 0:
      return True
    return self.seconds is not None and self._clock() - self._last > self.seconds

  def reset(self) -> None:
    self._last = self._clock()
