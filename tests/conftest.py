"""Shared pytest fixtures."""

import contextlib
import io
import os
import pathlib
import signal
import sys
import tempfile
import typing

from engine import cpu_setup

cpu_setup.configure()  # before any test imports jax: tests run the same XLA setup as launch.py
# One persistent compilation cache for the session, this process and every launch.py it starts
# (they inherit the environment): the same programs are compiled once, not once per subprocess.
os.environ.setdefault('JAX_COMPILATION_CACHE_DIR', tempfile.mkdtemp(prefix='jax-findings-xla-'))
os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS', '0')

import pytest  # noqa: E402

MAX_WORKERS = 4  # each worker is a JAX process of ~1 GB with a thread per core


def pytest_xdist_auto_num_workers(config):
  """`-n auto` (pyproject's addopts): one test process per core, at most MAX_WORKERS. Most tests
  are compile-bound, and XLA compiles on one thread, so two processes on two cores finish the
  suite far sooner than one; more than a few would only share the cores and multiply memory."""
  del config
  return max(1, min(len(os.sched_getaffinity(0)), MAX_WORKERS))


def _cost_rank(item) -> int:
  """End-to-end files first: launch_* start subprocesses, experiments_* run findings. Started
  early, a long file overlaps the many short ones instead of running alone at the end."""
  name = item.path.name
  return 0 if name.startswith('launch_') else 1 if name.startswith('experiments_') else 2


def pytest_collection_modifyitems(config, items):
  del config
  items.sort(key=_cost_rank)  # stable: the order within each file is kept


@pytest.fixture(scope='session')
def shared_datasets() -> str:
  """The offline datasets directory: `shared/datasets` beside the repo."""
  path = pathlib.Path(__file__).resolve().parents[2] / 'shared' / 'datasets'
  if not (path / 'mnist').is_dir():
    pytest.skip(f'no shared datasets at {path}')
  return str(path)


@pytest.fixture(scope='session')
def mnist_small(shared_datasets):
  """A small, fixed slice of real MNIST, shared by the engine tests."""
  import data

  return data.load(
    'mnist',
    data_dir=shared_datasets,
    validation_size=256,
    train_subset=1024,
    test_subset=512,
    download=False,
  )


def tiny_config(**sweep):
  """An MLP config small enough to compile and train in about a second."""
  import ml_collections

  c = ml_collections.ConfigDict()
  c.dataset = ml_collections.ConfigDict(
    dict(
      name='mnist',
      data_dir='',
      validation_size=256,
      train_subset=1024,
      test_subset=512,
      split_seed=0,
      download=False,
      allow_standin=False,
    )
  )
  c.model = ml_collections.ConfigDict(
    dict(
      name='mlp',
      hidden=(32,),
      num_classes=10,
      activation='relu',
      kernel_init='glorot_uniform',
      init_scale=1.0,
      batch_norm=False,
      dropout_rate=0.0,
    )
  )
  c.optimizer = ml_collections.ConfigDict(dict(name='adam', learning_rate=1e-3))
  c.train = ml_collections.ConfigDict(
    dict(epochs=2, batch_size=64, eval_batch_size=256, eval_train_size=512, steps_per_call=-1)
  )
  c.sweep = ml_collections.ConfigDict()
  c.sweep.model = ml_collections.ConfigDict(dict(dropout_rate=(0.0, 0.5)))
  for key, values in sweep.items():
    section, leaf = key.split('.')
    c.sweep[section] = c.sweep.get(section, ml_collections.ConfigDict())
    c.sweep[section][leaf] = values
  c.seeds = 2
  c.seed = 0
  c.sweep_max_models = 0
  c.parallel = ml_collections.ConfigDict(dict(mode='auto', devices=0))
  c.checkpoint_every_secs = 1e9
  return c


def train_group(group, config, device_data, group_dir, **kw):
  """`loop.train_group` on the plan `config` gives `group` (config changes after grouping count)."""
  from engine import loop, plan, sweep

  group = sweep.Group(
    group.index, group.points, group.seeds, sweep.apply_point(config, group.points[0])
  )
  n = int(device_data['train'][1].shape[0])
  return loop.train_group(
    group, plan.resolve(group, n, probe=kw.get('probe') is not None), device_data, group_dir, **kw
  )


class Launched(typing.NamedTuple):
  """What a run of launch.py gave: as subprocess.CompletedProcess names it."""

  returncode: int
  stdout: str
  stderr: str


def launch_in_process(args, env, cwd) -> Launched:
  """`launch.py --noprogress ARGS` run inside this test process, with `env` as its environment
  and `cwd` as its working directory.

  For the many bad-input cases: a subprocess spends seconds importing jax to print one paragraph.
  Each case still goes through launch.py's whole command line (absl and config parsing, the same
  exit codes); tests that need a real process (signals, kills, exit codes as the shell sees
  them) keep starting one. Restores what launch.py touches: argv, environment, cwd, absl's flags
  and logging, signal handlers.
  """
  from absl import flags, logging  # pylint: disable=g-import-not-at-top

  import launch  # pylint: disable=g-import-not-at-top

  saved_argv, saved_env, saved_cwd = sys.argv, dict(os.environ), os.getcwd()
  saved_signals = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
  handler = logging.get_absl_handler()
  saved_verbosity, saved_filters = logging.get_verbosity(), list(handler.filters)
  flags.FLAGS.unparse_flags()
  for name in [n for n in flags.FLAGS if n.startswith('config.')]:
    delattr(flags.FLAGS, name)  # config_flags defines one per override given; a rerun redefines
  out, err, code = io.StringIO(), io.StringIO(), 0
  try:
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    sys.argv = ['launch.py', '--noprogress', *args]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
      try:
        launch.cli_main()
      except SystemExit as e:
        code = e.code if isinstance(e.code, int) else int(e.code is not None)
  finally:
    sys.argv = saved_argv
    os.environ.clear()
    os.environ.update(saved_env)
    os.chdir(saved_cwd)
    for s, h in saved_signals.items():
      signal.signal(s, h)
    logging.set_verbosity(saved_verbosity)
    handler.filters[:] = saved_filters
    flags.FLAGS.unparse_flags()
  return Launched(code, out.getvalue(), err.getvalue())
