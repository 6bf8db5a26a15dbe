"""Per-epoch scalars for TensorBoard, one run per (point, seed), through tensorboardX (no TF)."""
import contextlib
import os

from tensorboardX import SummaryWriter

from engine import sweep


@contextlib.contextmanager
def epoch_writer(logdir, group):
  """Yields `on_epoch(epoch, row)` writing `row[metric][j]` for model j of `group`."""
  runs = [f'{sweep.label(p)}/seed{s}' for p in group.points for s in group.seeds]
  writers = {}

  def on_epoch(epoch, row):
    for j, run in enumerate(runs):
      if run not in writers:
        writers[run] = SummaryWriter(os.path.join(logdir, run))
      for metric, values in row.items():
        writers[run].add_scalar(metric, float(values[j]), epoch)
      writers[run].flush()

  try:
    yield on_epoch
  finally:
    for w in writers.values():
      w.close()
