"""Per-epoch scalars for TensorBoard, one run per (point, seed), through tensorboardX (no TF).

Each run also records its point's hyperparameters and seed for the HParams dashboard, once: when
its event files are first created, not again when a resumed run appends to them.

In a gs:// work dir tensorboardX writes the event files itself (through google-cloud-storage,
which gcsfs brings): each flush uploads a run's whole event file, an object being written whole.
"""

import contextlib
import os
import sys
import time

from etils import epath

from engine import distributed, sweep

FLUSH_SECS = 10.0  # a flush fsyncs every run's file: per epoch it dominated runs of tiny epochs


@contextlib.contextmanager
def torch_hidden():
  """Inside, `import torch` raises ImportError (unless torch is already imported); after, it
  imports again.

  tensorboardX imports torch whenever it is installed (the benchmark extra installs it) only to
  recognise torch tensors; we write floats, and that import cost seconds of every run's start.
  """
  hidden = 'torch' not in sys.modules
  if hidden:
    sys.modules['torch'] = None
  try:
    yield
  finally:
    if hidden and sys.modules.get('torch', 0) is None:
      del sys.modules['torch']


def _summary_writer_class():
  """tensorboardX's SummaryWriter, imported without torch (`torch_hidden`)."""
  with torch_hidden():
    from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top
  return SummaryWriter


@contextlib.contextmanager
def epoch_writer(logdir, group):
  """Yields `on_epoch(epoch, row)` writing `row[metric][j]` for model j of `group`;
  `on_epoch.flush()` puts every run's events on disk (the loop calls it before each epoch-end
  checkpoint, so a run resumed from that checkpoint misses no epoch's events).

  Yields None in every process but process 0 of a job, which alone writes.
  """
  if not distributed.is_writer():
    yield None
    return
  runs = [f'{sweep.label(p)}/seed{s}' for p in group.points for s in group.seeds]
  points = [hparams(p, s) for p in group.points for s in group.seeds]
  writers = {}
  last_flush = time.monotonic()
  summary_writer = _summary_writer_class()

  def on_epoch(epoch, row):
    nonlocal last_flush
    for j, run in enumerate(runs):
      if run not in writers:
        path = os.path.join(logdir, run)
        resumed = _has_events(path)
        writers[run] = summary_writer(path)
        if not resumed:
          _write_hparams(writers[run], points[j], row)
      for metric, values in row.items():
        writers[run].add_scalar(metric, float(values[j]), epoch)
    if time.monotonic() - last_flush > FLUSH_SECS:
      for w in writers.values():
        w.flush()
      last_flush = time.monotonic()

  def flush():
    nonlocal last_flush
    for w in writers.values():
      w.flush()
    last_flush = time.monotonic()

  on_epoch.flush = flush
  try:
    yield on_epoch
  finally:
    for w in writers.values():
      w.close()


def _has_events(path) -> bool:
  directory = epath.Path(path)
  return directory.is_dir() and any('tfevents' in f.name for f in directory.iterdir())


def hparams(point: dict, seed: int) -> dict:
  """A sweep point's values by key, and the seed; tuples (layer widths) as text."""
  out = {k: v if isinstance(v, (bool, int, float, str)) else str(v) for k, v in point.items()}
  return dict(out, seed=seed)


def _write_hparams(writer, values: dict, row: dict) -> None:
  from tensorboardX import summary  # pylint: disable=g-import-not-at-top

  experiment, start, _ = summary.hparams(values, {metric: None for metric in row})
  for s in (experiment, start):
    writer.file_writer.add_summary(s)
  writer.flush()
