"""Per-epoch scalars for TensorBoard, one run per (point, seed), through tensorboardX (no TF)."""

import contextlib
import os
import sys
import time

from engine import distributed, sweep

FLUSH_SECS = 10.0  # a flush fsyncs every run's file: per epoch it dominated runs of tiny epochs


def _summary_writer_class():
  """tensorboardX's SummaryWriter, imported without torch.

  tensorboardX imports torch whenever it is installed (the benchmark extra installs it) only to
  recognise torch tensors; we write floats, and that import cost seconds of every run's start.
  """
  blocked = 'torch' not in sys.modules
  if blocked:
    sys.modules['torch'] = None  # makes `import torch` raise ImportError, which it tolerates
  try:
    from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top
  finally:
    if blocked:
      del sys.modules['torch']
  return SummaryWriter


@contextlib.contextmanager
def epoch_writer(logdir, group):
  """Yields `on_epoch(epoch, row)` writing `row[metric][j]` for model j of `group`.

  Yields None in every process but process 0 of a job, which alone writes.
  """
  if not distributed.is_writer():
    yield None
    return
  runs = [f'{sweep.label(p)}/seed{s}' for p in group.points for s in group.seeds]
  writers = {}
  last_flush = time.monotonic()
  summary_writer = _summary_writer_class()

  def on_epoch(epoch, row):
    nonlocal last_flush
    for j, run in enumerate(runs):
      if run not in writers:
        writers[run] = summary_writer(os.path.join(logdir, run))
      for metric, values in row.items():
        writers[run].add_scalar(metric, float(values[j]), epoch)
    if time.monotonic() - last_flush > FLUSH_SECS:
      for w in writers.values():
        w.flush()
      last_flush = time.monotonic()

  try:
    yield on_epoch
  finally:
    for w in writers.values():
      w.close()
