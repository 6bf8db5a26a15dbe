"""The command line: pick a finding, override its config, run it into a work dir, report.

    python launch.py --list
    python launch.py --experiment=dropout_sweep [--quick] [--config.train.epochs=2] [--workdir=DIR]

`--config.*` overrides are taken out of argv before absl sees it and typed against the chosen
experiment's own config (engine/overrides.py), so every mistake gets a one-paragraph message.
"""
import sys

from engine import cpu_setup

cpu_setup.configure()

from absl import app, flags, logging  # noqa: E402  (XLA flags must be set before jax loads)

import data  # noqa: E402
import experiments  # noqa: E402
from engine import overrides, run  # noqa: E402
from engine.errors import UserError  # noqa: E402

flags.DEFINE_string('experiment', None, 'The finding to run (see --list).')
flags.DEFINE_bool('list', False, 'List the findings, one line each, and exit.')
flags.DEFINE_bool('quick', False, "The experiment's quick variant: tiny data, few points, one seed.")
flags.DEFINE_string('workdir', None, 'Where metrics, checkpoints, plots and the report go; a rerun '
                    'with the same work dir resumes. Default: runs/NAME (or runs/NAME-HASH for an '
                    'overridden config).')
flags.DEFINE_bool('progress', True, 'Show a progress bar.')
flags.DEFINE_bool('show_config', False, 'Print the config (after overrides) and exit.')
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


if __name__ == '__main__':
  try:
    argv, _OVERRIDES[:] = overrides.split_argv(sys.argv)
  except UserError as e:
    _fail(str(e))
  app.run(main, argv=argv)
