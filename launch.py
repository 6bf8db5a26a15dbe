"""The command line: pick a finding, override its config, run it into a work dir, report.

    python launch.py --list
    python launch.py --experiment=dropout_sweep [--quick] [--config.train.epochs=2] [--workdir=DIR]
    python launch.py --config=path/to/my_finding.py[:quick] [--config.seeds=5]
    python launch.py --experiment=all [--quick]     # every finding, one per core at a time
    python launch.py --experiment=xor,loocv         # these findings
    python launch.py --experiment=NAME --coordinator_address=HOST0:1234 --num_processes=2 \
        --process_id=0     # one process of a job of several (engine/distributed.py)

Exit codes: 0 done; 1 failed (a bug, a full or unusable work dir: one paragraph says which);
2 bad input; 130 interrupted (Ctrl-C); 75 preempted (SIGTERM: the exact step is saved and
status.json says "preempted"; the same command resumes). Each is decided before SIGKILL can
follow a SIGTERM, which a scheduler sends only after its grace period.

`pip install -e .` also installs this as the `jax-findings` command. Configs are parsed by
`ml_collections.config_flags` (engine/cli.py); absl's own flags (--verbosity, --helpfull,
--flagfile) and JAX's (--jax_debug_nans, ...) work as usual.
"""

import os
import socket
import sys
import time

from engine import cpu_setup

cpu_setup.configure()

import jax  # noqa: E402  (XLA flags must be set before jax loads)
import yaml  # noqa: E402
from absl import app, flags, logging  # noqa: E402
from ml_collections import config_flags  # noqa: E402

import data  # noqa: E402
import experiments  # noqa: E402
from engine import (  # noqa: E402
  all_findings,
  cli,
  compile_cache,
  distributed,
  files,
  preemption,
  report,
  run,
  workers,
)
from engine.errors import UserError  # noqa: E402

_CONFIG = config_flags.DEFINE_config_file(
  'config',
  None,
  'A finding file, optionally with its variant: path/to/finding.py[:quick]. '
  'Override its keys with --config.a.b=value.',
)
flags.DEFINE_string(
  'experiment', None, "A built-in finding (see --list), 'all', or several: name1,name2."
)
flags.DEFINE_bool('list', False, 'List the findings, one line each, and exit.')
flags.DEFINE_bool('quick', False, "The finding's quick variant (same as --config=FILE:quick).")
flags.DEFINE_string(
  'workdir',
  None,
  'Where metrics, checkpoints, plots and the report go; a rerun '
  'with the same work dir resumes. Default: runs/NAME (or runs/NAME-HASH for an '
  'overridden config).',
)
flags.DEFINE_bool(
  'progress',
  True,
  "Show a progress bar when stderr is a terminal; elsewhere (a cluster job's log) each epoch "
  'is one log line instead.',
)
flags.DEFINE_bool(
  'deterministic',
  False,
  'Ask XLA for deterministic GPU kernels (XLA_FLAGS --xla_gpu_deterministic_ops=true): GPU runs '
  'then repeat bit for bit, a resume included, at some speed. CPU and TPU are deterministic '
  'without it (README_ops.md).',
)
flags.DEFINE_string(
  'compilation_cache',
  'auto',
  "JAX's persistent compilation cache: 'auto' ($JAX_COMPILATION_CACHE_DIR, else a per-user, "
  "per-machine directory under ~/.cache/jax-findings), a directory, or 'off'.",
)
flags.DEFINE_bool('show_config', False, 'Print the config (after overrides) and exit.')
flags.DEFINE_enum(
  'distributed',
  'auto',
  distributed.MODES,
  'Join the processes of a cluster job with jax.distributed: auto (when an address '
  'is given or SLURM/Open MPI runs several tasks), on (always; JAX detects SLURM, '
  'TPU VM slices, Open MPI), off.',
)
flags.DEFINE_string(
  'coordinator_address',
  None,
  'host:port of process 0, the same on every process (default: $JAX_COORDINATOR_ADDRESS).',
)
flags.DEFINE_integer('num_processes', None, 'Processes in the job (default: $JAX_NUM_PROCESSES).')
flags.DEFINE_integer('process_id', None, 'This process, from 0 (default: $JAX_PROCESS_ID).')
flags.DEFINE_integer(
  'workers',
  1,
  'Train the sweep with this many local worker processes, which share the work dir and take '
  'its groups in turn (each pinned to its share of the CPU cores; see --worker_cpus). With '
  '--experiment=all, how many findings run at once (default on CPU: one per core, up to '
  f'{all_findings.MAX_DEFAULT_WORKERS}).',
)
flags.DEFINE_string(
  'worker',
  '',
  'i/n: be worker i of n (from 0) of a cluster job, training the groups whose index is i '
  'modulo n; slurm: the same from a SLURM job array ($SLURM_ARRAY_TASK_ID, _COUNT).',
)
flags.DEFINE_float(
  'lease_secs',
  workers.DEFAULT_LEASE_SECS,
  'How long the claim on a group outlives its worker: another worker takes over a group whose '
  'worker stopped refreshing its claim this long ago (at once on the same host).',
)
flags.DEFINE_float(
  'job_started',
  None,
  'Set by --workers=N on its workers: when the job started (seconds since the epoch). A report '
  "written after it is this job's, so a worker that starts late does not write it again.",
)
flags.DEFINE_enum(
  'worker_cpus',
  'all',
  workers.CPU_MODES,
  'With --workers=N: all (every worker on every core: the same bits as one process) or share '
  '(each pinned to its share of the cores: faster, but XLA:CPU convolutions then round '
  'differently).',
)
FLAGS = flags.FLAGS
_PREPARED: list = []  # the cli.Prepared of this process's command line
_ARGV: list = []  # the command line as given, for --workers to start its workers with
_HELP = ('help', '?', 'helpshort', 'helpfull', 'helpxml')


def _fail(message: str, code: int = 2):
  print(f'error: {message}', file=sys.stderr)
  sys.exit(code)


def _parse_flags(argv):
  """absl's parse, with every config mistake turned into one paragraph and exit code 2."""
  prepared = _PREPARED[0]
  try:
    rest = FLAGS(argv)
    if prepared.finding is not None:
      cli.check_overrides(_CONFIG.value, prepared.default, FLAGS['config'].override_values)
  except SystemExit as e:  # absl exits 1 after printing the help asked for; that is a success
    asked = any(a.startswith('-') and a.lstrip('-').split('=')[0] in _HELP for a in argv[1:])
    sys.exit(0 if asked and e.code == 1 else e.code)
  except UserError as e:
    _fail(str(e))
  except (flags.Error, AttributeError, KeyError, TypeError, ValueError) as e:
    _fail(str(cli.explain(e, prepared.default)))
  return rest


def main(argv):
  if len(argv) > 1:
    _fail(
      f'Unexpected arguments {argv[1:]}. Flags take the form --name=value; config overrides '
      'take the form --config.section.key=value.'
    )
  prepared = _PREPARED[0]
  if FLAGS.list or (prepared.finding is None and not experiments.is_job(FLAGS.experiment)):
    for name in experiments.NAMES:
      print(f'{name:24s} {experiments.get(name).summary}')
    if not FLAGS.list:
      print(
        '\nRun one with: python launch.py --experiment=NAME [--quick], or your own finding '
        'with --config=path/to/finding.py'
      )
    return
  if not FLAGS['verbosity'].present:
    logging.set_verbosity(logging.WARNING)
    logging.get_absl_handler().addFilter(_one_line_orbax_errors)
  if FLAGS.deterministic:
    try:
      deterministic_ops()
    except UserError as e:
      _fail(str(e))
  try:
    worker = workers.from_flags(FLAGS.workers, FLAGS.worker, FLAGS.lease_secs, FLAGS.worker_cpus)
    if experiments.is_job(FLAGS.experiment) and FLAGS.worker:
      raise UserError(
        f'--experiment={FLAGS.experiment} runs several findings, each taken whole by one '
        'worker (--workers=N sets how many at once); --worker=i/n splits the groups of one '
        'finding. Run a finding with it, e.g. --experiment=dropout_sweep.'
      )
    workdir = files.workdir(FLAGS.workdir) if FLAGS.workdir else None
  except UserError as e:
    _fail(str(e))
  compile_cache.enable(FLAGS.compilation_cache)
  try:
    joined = distributed.initialize(
      FLAGS.distributed, FLAGS.coordinator_address, FLAGS.num_processes, FLAGS.process_id
    )
  except UserError as e:
    _fail(str(e))
  if joined and FLAGS.workers > 1:
    _fail(
      '--workers starts worker processes on this machine, but this process is part of a job '
      'of several processes (jax.distributed). Run one process per task and split the sweep '
      'with --worker=i/n across jobs, or drop --workers.'
    )
  if joined and not distributed.is_writer():
    sys.stdout = open(os.devnull, 'w')  # process 0 prints for the job, as it writes for it
  preemption.install(sigterm=not joined)  # in a job, jax.distributed's preemption service has it
  if experiments.is_job(FLAGS.experiment):
    return run_all(prepared, joined)
  finding, config = prepared.finding, _CONFIG.value
  if FLAGS.show_config:
    print(yaml.dump(config.to_dict(), Dumper=_WrittenOut), end='')
    return
  try:
    if finding.trains:
      run.validate(config)
    if finding.validate:
      finding.validate(config)
    workdir = workdir or run.default_workdir(
      finding.name, config, prepared.default, prepared.variant
    )
    if not files.is_remote(workdir):
      files.check_workdir(workdir)
    if FLAGS.workers > 1:
      print(f'{finding.name}: work dir {workdir}, {FLAGS.workers} worker processes', flush=True)
      sys.exit(workers.spawn(FLAGS.workers, _ARGV, cpus=FLAGS.worker_cpus))
    print(f'{finding.name}: work dir {workdir}' + (f' ({worker})' if worker.count > 1 else ''))
    run.run(
      finding,
      config,
      workdir,
      progress=_progress(),
      command=prepared.command,
      worker=worker,
      started=FLAGS.job_started,
    )
  except (UserError, data.DataError) as e:
    _fail(str(e))
  except KeyboardInterrupt as e:
    _interrupted(e, f'Finished groups and checkpoints are kept in {workdir}')
  except Exception as e:  # pylint: disable=broad-except
    explained = files.explain_os_error(e, workdir)
    if explained is None:
      raise
    _fail(explained, code=1)


def _one_line_orbax_errors(record) -> bool:
  """Orbax logs a failed save from each of its threads with a traceback (a full disk: hundreds
  of lines); one line each is kept, and launch.py's own paragraph names the cause."""
  if '/orbax/' in record.pathname:
    record.msg, record.args = str(record.getMessage()).splitlines()[0][:300], ()
    record.exc_info, record.exc_text = None, None
  return True


def _progress() -> bool:
  """A progress bar redraws its line with carriage returns: on a terminal only."""
  return FLAGS.progress and sys.stderr.isatty()


def _interrupted(error, kept: str):
  if isinstance(error, preemption.Preempted):
    _fail(
      f'Preempted (SIGTERM): the exact step was saved. {kept}; run the same command again to '
      'resume.',
      code=preemption.EXIT_CODE,
    )
  _fail(
    f'Interrupted. {kept}; run the same command again to resume.',
    code=preemption.INTERRUPTED_EXIT_CODE,
  )


def deterministic_ops(environ=os.environ) -> None:
  """Adds --xla_gpu_deterministic_ops=true to XLA_FLAGS, which XLA reads when its backend starts:
  deterministic GPU reductions and scatters (atomics off). UserError if it cannot take effect."""
  from jax._src import xla_bridge  # pylint: disable=g-import-not-at-top

  current = environ.get('XLA_FLAGS', '')
  if '--xla_gpu_deterministic_ops=false' in current:
    raise UserError(
      '--deterministic asks for --xla_gpu_deterministic_ops=true, but XLA_FLAGS sets it to '
      'false. Remove it from XLA_FLAGS, or drop --deterministic.'
    )
  if '--xla_gpu_deterministic_ops' in current:
    return
  if xla_bridge.backends_are_initialized():
    raise UserError(
      '--deterministic must be set before JAX starts its backend, and something started it '
      'already. Put --xla_gpu_deterministic_ops=true in XLA_FLAGS instead.'
    )
  environ['XLA_FLAGS'] = f'{current} --xla_gpu_deterministic_ops=true'.strip()


class _WrittenOut(yaml.Dumper):
  """YAML that writes every value where it is, not `*id001` for a tuple used twice."""

  def ignore_aliases(self, data):
    return True


def run_all(prepared, joined: bool):
  """Runs every finding's (or the listed findings') default or quick config, each in its default
  work dir, one after another or N at a time (engine/all_findings.py; --workers=N, on CPU by
  default one worker per core).

  A finding that fails is reported and the others still run; finished ones resume as usual. A
  finding whose dataset is not on this machine (CIFAR-10 here) is listed as not run, not failed.
  Prints and writes (runs/all.md) each finding's outcome and wall time.
  """
  if FLAGS.workdir:
    _fail(
      '--experiment=all runs each finding with its own default config in its own work dir, '
      'so it takes no --config.* overrides and no --workdir. Run findings one by one to '
      'override them, or set JAX_FINDINGS_RUNS to move every work dir.'
    )
  names = experiments.job_names(FLAGS.experiment)
  variant = 'quick' if FLAGS.quick else None
  runs_root = os.environ.get('JAX_FINDINGS_RUNS', 'runs')
  t_all = time.monotonic()
  started = FLAGS.job_started or time.time()
  job = all_findings.job_dir(runs_root, started)
  me = f'{socket.gethostname()}:{os.getpid()}'
  n = FLAGS.workers
  if not FLAGS['workers'].present and not FLAGS.job_started and not joined:
    n = min(len(names), all_findings.default_workers(jax.default_backend(), _cores()))
  ran = []
  if n > 1 and not FLAGS.job_started:
    print(f'{len(names)} findings, {n} worker processes (--workers=1: one after another)')
    sys.stdout.flush()
    code = workers.spawn(n, _ARGV, cpus=FLAGS.worker_cpus, started=started)
    if code in (preemption.EXIT_CODE, preemption.INTERRUPTED_EXIT_CODE):
      _fail(
        'Stopped. Finished findings, groups and checkpoints are kept; run the same command '
        'again to resume.',
        code=code,
      )
  else:
    try:
      ran = all_findings.work(
        names,
        lambda name: _run_one(name, variant, prepared.command),
        job,
        worker=me,
        lease_secs=FLAGS.lease_secs,
        announce=lambda line: print(line, flush=True),
      )
    except KeyboardInterrupt as e:
      _interrupted(e, 'Finished findings, groups and checkpoints are kept')
    if FLAGS.job_started:  # a worker of a job: whoever started it writes the summary
      return
    code = 0
  rows = all_findings.collect(names, job, f'NOT FINISHED (a worker exited with code {code})', ran)
  _summarize(rows, time.monotonic() - t_all, n)
  if code or any(r.failed for r in rows):
    sys.exit(1)


def _cores() -> int:
  return len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count() or 1


def _run_one(name, variant, command) -> all_findings.Row:
  t0, workdir, claims = time.monotonic(), '', ()
  try:
    finding = experiments.get(name)
    config = finding.config(variant)
    workdir = run.default_workdir(name, config, config, variant)
    print(f'{name}: work dir {workdir}', flush=True)
    results = run.run(finding, config, workdir, progress=_progress(), command=command)
    if results is None:  # another process on the same work dir finishes it
      outcome = 'finished by another process on its work dir'
    else:
      outcome = results['verdict']['outcome']
      claims = tuple(
        {'finding': name, 'id': c['id'], 'result': c['result'], 'claim': c['claim'][:90]}
        for c in results['verdict']['claims']
      )
  except data.DataNotFoundError as e:
    outcome = f'NOT RUN (its dataset is not on this machine): {e}'
    print(f'note: {name} not run: {e}', file=sys.stderr)
  except (UserError, data.DataError) as e:
    outcome = f'FAILED: {e}'
    print(f'error: {e}', file=sys.stderr)
  return all_findings.Row(name, outcome, time.monotonic() - t0, workdir, claims=claims)


def _summarize(rows, total: float, n_workers: int) -> None:
  clock = lambda s: '-' if s != s else f'{s // 60:.0f} min {s % 60:02.0f} s'
  table = [
    {'finding': r.finding, 'outcome': r.outcome.split('\n')[0][:70], 'wall': clock(r.seconds),
     'work dir': r.workdir} | ({'worker': r.worker} if n_workers > 1 else {})
    for r in rows
  ]  # fmt: skip
  extra = {'worker': ''} if n_workers > 1 else {}
  note = f'{n_workers} worker processes' if n_workers > 1 else ''
  table.append({'finding': 'total', 'outcome': note, 'wall': clock(total), 'work dir': ''} | extra)
  text = report.text_table(table)
  claims_text = report.text_table([c for r in rows for c in r.claims])
  print()
  print(claims_text)
  print()
  print(text)
  name = 'all' if FLAGS.experiment == 'all' else 'findings'
  path = os.path.join(
    os.environ.get('JAX_FINDINGS_RUNS', 'runs'), f'{name}-quick.md' if FLAGS.quick else f'{name}.md'
  )
  files.write_text(
    path,
    f'# {"All findings" if name == "all" else ", ".join(r.finding for r in rows)} '
    f'({"quick" if FLAGS.quick else "default"} configs)\n\n```\n{text}\n```\n\n'
    f'## Every claim\n\n```\n{claims_text}\n```\n',
  )
  print(f'Summary: {path}')


def cli_main():
  """The `jax-findings` console command, and `python launch.py`."""
  try:
    prepared = cli.prepare(sys.argv)
  except UserError as e:
    _fail(str(e))
  _PREPARED[:] = [prepared]
  _ARGV[:] = list(sys.argv)
  sys.argv = prepared.argv  # config_flags reads the overrides from sys.argv
  jax.config.parse_flags_with_absl()
  app.run(main, argv=prepared.argv, flags_parser=_parse_flags)


if __name__ == '__main__':
  cli_main()
