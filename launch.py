"""The command line: pick a finding, override its config, run it into a work dir, report.

    python launch.py --list
    python launch.py --experiment=dropout_sweep [--quick] [--config.train.epochs=2] [--workdir=DIR]
    python launch.py --experiment=all [--quick]     # every finding in turn, with its wall time
    python launch.py --experiment=NAME --coordinator_address=HOST0:1234 --num_processes=2 \
        --process_id=0     # one process of a job of several (engine/distributed.py)

`--config.*` overrides are taken out of argv before absl sees it and typed against the chosen
experiment's own config (engine/overrides.py), so every mistake gets a one-paragraph message.
"""
import os
import sys
import time

from engine import cpu_setup

cpu_setup.configure()

from absl import app, flags, logging  # noqa: E402  (XLA flags must be set before jax loads)

import data  # noqa: E402
import experiments  # noqa: E402
from engine import distributed, files, overrides, report, run  # noqa: E402
from engine.errors import UserError  # noqa: E402

flags.DEFINE_string('experiment', None, "The finding to run (see --list), or 'all'.")
flags.DEFINE_bool('list', False, 'List the findings, one line each, and exit.')
flags.DEFINE_bool('quick', False, "The experiment's quick variant: tiny data, few points, one seed.")
flags.DEFINE_string('workdir', None, 'Where metrics, checkpoints, plots and the report go; a rerun '
                    'with the same work dir resumes. Default: runs/NAME (or runs/NAME-HASH for an '
                    'overridden config).')
flags.DEFINE_bool('progress', True, 'Show a progress bar.')
flags.DEFINE_bool('show_config', False, 'Print the config (after overrides) and exit.')
flags.DEFINE_enum('distributed', 'auto', distributed.MODES,
                  'Join the processes of a cluster job with jax.distributed: auto (when an address '
                  'is given or SLURM/Open MPI runs several tasks), on (always; JAX detects SLURM, '
                  'TPU VM slices, Open MPI), off.')
flags.DEFINE_string('coordinator_address', None, 'host:port of process 0, the same on every '
                    'process (default: $JAX_COORDINATOR_ADDRESS).')
flags.DEFINE_integer('num_processes', None, 'Processes in the job (default: $JAX_NUM_PROCESSES).')
flags.DEFINE_integer('process_id', None, 'This process, from 0 (default: $JAX_PROCESS_ID).')
FLAGS = flags.FLAGS
_OVERRIDES = []


def _fail(message: str, code: int = 2):
  print(f'error: {message}', file=sys.stderr)
  sys.exit(code)


def main(argv):
  if len(argv) > 1:
    _fail(f'Unexpected arguments {argv[1:]}. Flags take the form --name=value; config overrides '
          'take the form --config.section.key=value.')
  if FLAGS.list or not FLAGS.experiment:
    for name in experiments.NAMES:
      print(f'{name:24s} {experiments.summary(name)}')
    if not FLAGS.list:
      print('\nRun one with: python launch.py --experiment=NAME [--quick]')
    return
  logging.set_verbosity(logging.WARNING)
  try:
    joined = distributed.initialize(FLAGS.distributed, FLAGS.coordinator_address,
                                    FLAGS.num_processes, FLAGS.process_id)
  except UserError as e:
    _fail(str(e))
  if joined and not distributed.is_writer():
    sys.stdout = open(os.devnull, 'w')  # process 0 prints for the job, as it writes for it
  if FLAGS.experiment == 'all':
    return run_all()
  workdir = FLAGS.workdir
  try:
    experiment = experiments.get(FLAGS.experiment)
    default = experiment.get_config(FLAGS.quick)
    config = overrides.apply(experiment.get_config(FLAGS.quick), _OVERRIDES)
    if FLAGS.show_config:
      print(config)
      return
    if not hasattr(experiment, 'measure'):  # a finding that measures has no training keys
      run.validate(config)
    if hasattr(experiment, 'validate'):
      experiment.validate(config)
    workdir = workdir or run.default_workdir(experiment.NAME, config, default, FLAGS.quick)
    print(f'{experiment.NAME}: work dir {workdir}')
    run.run(experiment, config, workdir, progress=FLAGS.progress)
  except (UserError, data.DataError) as e:
    _fail(str(e))
  except KeyboardInterrupt:
    _fail(f'Interrupted. Finished groups and checkpoints are kept in {workdir}; run the same '
          'command again to resume.', code=130)


def run_all():
  """Runs every finding's default (or quick) config in turn, each in its default work dir.

  A finding that fails is reported and the others still run; finished ones resume as usual.
  Prints and writes (runs/all.md) each finding's outcome and wall time.
  """
  if _OVERRIDES or FLAGS.workdir:
    _fail('--experiment=all runs each finding with its own default config in its own work dir, '
          'so it takes no --config.* overrides and no --workdir. Run findings one by one to '
          'override them, or set JAX_FINDINGS_RUNS to move every work dir.')
  rows, t_all = [], time.monotonic()
  for name in experiments.NAMES:
    experiment = experiments.get(name)
    config = experiment.get_config(FLAGS.quick)
    workdir = run.default_workdir(name, config, config, FLAGS.quick)
    print(f'=== {name}: work dir {workdir}', flush=True)
    t0 = time.monotonic()
    try:
      results = run.run(experiment, config, workdir, progress=FLAGS.progress)
      outcome = results['verdict']['outcome']
    except (UserError, data.DataError) as e:
      outcome = f'FAILED: {e}'
      print(f'error: {e}', file=sys.stderr)
    except KeyboardInterrupt:
      _fail(f'Interrupted during {name}. Finished findings, groups and checkpoints are kept; run '
            'the same command again to resume.', code=130)
    rows.append((name, outcome, time.monotonic() - t0, workdir))
  total = time.monotonic() - t_all
  clock = lambda s: f'{s // 60:.0f} min {s % 60:02.0f} s'
  table = [{'finding': n, 'outcome': o.split('\n')[0][:70], 'wall': clock(s), 'work dir': w}
           for n, o, s, w in rows]
  table.append({'finding': 'total', 'outcome': '', 'wall': clock(total), 'work dir': ''})
  text = report.text_table(table)
  print()
  print(text)
  path = os.path.join(os.environ.get('JAX_FINDINGS_RUNS', 'runs'),
                      'all-quick.md' if FLAGS.quick else 'all.md')
  files.write_text(path, f'# All findings ({"quick" if FLAGS.quick else "default"} configs)\n\n'
                   f'```\n{text}\n```\n')
  print(f'Summary: {path}')
  if any(o.startswith('FAILED') for _, o, _, _ in rows):
    sys.exit(1)


if __name__ == '__main__':
  try:
    argv, _OVERRIDES[:] = overrides.split_argv(sys.argv)
  except UserError as e:
    _fail(str(e))
  app.run(main, argv=argv)
