"""Runs one finding into a work dir: data once, each unfinished group, the verdict, the report."""

import contextlib
import dataclasses
import hashlib
import json
import logging as std_logging
import math
import os
import shlex
import socket
import sys
import time

import jax
from absl import logging

import data
from engine import (
  checkpoints,
  distributed,
  early_stopping,
  files,
  group_lease,
  loop,
  optimizers,
  parallel,
  preemption,
  report,
  sweep,
  tensorboard,
  workers,
)
from engine import finding as finding_lib
from engine import plan as plan_lib
from engine.errors import UserError


def identity(config) -> dict:
  """What makes two runs the same run: the config without `parallel`, which changes where
  things run but not the results, so a run can resume on another layout or cluster."""
  return {k: v for k, v in json.loads(config.to_json(sort_keys=True)).items() if k != 'parallel'}


def config_hash(config) -> str:
  return hashlib.sha256(json.dumps(identity(config), sort_keys=True).encode()).hexdigest()[:8]


def default_workdir(name: str, config, default_config, variant: str | None = None) -> str:
  """`runs/NAME` for the default config, `runs/NAME-VARIANT` for a variant's (`runs/NAME-quick`),
  else `runs/NAME-HASH`: the plain command finds its own earlier run, a changed config never does.
  """
  root = os.environ.get('JAX_FINDINGS_RUNS', 'runs')
  if identity(config) == identity(default_config):
    return os.path.join(root, name + (f'-{variant}' if variant else ''))
  return os.path.join(root, f'{name}-{config_hash(config)}')


def prepare_workdir(workdir: str, name: str, config) -> None:
  """Creates the work dir, or checks that it holds a run of this very experiment and config."""
  path = os.path.join(workdir, 'config.json')
  wanted = {'experiment': name, 'config': identity(config)}
  if files.exists(path):
    try:
      found = files.read_json(path)
    except (OSError, ValueError) as e:
      raise UserError(
        f'The work dir {workdir} has an unreadable config.json ({e}). Delete the work '
        'dir to start fresh, or pass another --workdir.'
      ) from None
    if found != wanted:
      diff = _diff(found.get('config', {}), wanted['config'])
      raise UserError(
        f'The work dir {workdir} holds a run of a different config '
        f'(experiment {found.get("experiment")!r}; differences: {diff or "none in config"}). '
        'Resuming it would mix two experiments. Pass another --workdir, or delete '
        f'{workdir} (rm -rf {shlex.quote(workdir)}) to start fresh.'
      )
    return
  files.makedirs(workdir)
  files.write_json(path, wanted)


def _diff(a, b, prefix=''):
  out = []
  for k in sorted(set(a) | set(b)):
    va, vb = a.get(k), b.get(k)
    if isinstance(va, dict) and isinstance(vb, dict):
      d = _diff(va, vb, f'{prefix}{k}.')
      out += [d] if d else []
    elif va != vb:
      out.append(f'{prefix}{k}: {va!r} there, {vb!r} now')
  return '; '.join(out)


def validate(config) -> None:
  """Checks what can be checked before any data is read; raises UserError."""
  counts = {
    'seeds': config.seeds,
    'train.epochs': config.train.epochs,
    'train.batch_size': config.train.batch_size,
    'train.eval_batch_size': config.train.eval_batch_size,
  }
  for key, value in counts.items():
    if value < 1:
      raise UserError(f'--config.{key} must be at least 1; got {value}.')
  plan_lib.train_options(config)
  if 'parallel' in config:  # the data split must divide the batch; models are padded as needed
    parallel.mesh_shape(
      config.parallel.mode, len(parallel.devices(config)), 1, config.train.batch_size
    )
  rates = [config.model.dropout_rate]
  points = sweep.points(config)
  rates += [p['model.dropout_rate'] for p in points if 'model.dropout_rate' in p]
  _check_numbers(config, points)
  for rate in rates:
    if not 0.0 <= rate < 1.0:
      raise UserError(
        f'Dropout rate {rate} is outside [0, 1): a rate is the probability of '
        'dropping a unit, and 1.0 would drop every unit. Pass rates such as '
        '--config.sweep.model.dropout_rate="(0.0,0.5,0.9)".'
      )
  early_stopping.from_config(config.get('early_stopping'))


def _check_numbers(config, points) -> None:
  """Refuses numbers no run can mean: a NaN, infinite or negative optimizer number (learning
  rate, momentum, decay) at any sweep point, a negative or NaN checkpoint interval."""
  every = config.checkpoint_every_secs
  if not math.isfinite(every) or every < 0:
    raise UserError(
      f'--config.checkpoint_every_secs must be a number of seconds, 0 or more (0: at every '
      f'chance); got {every}. Pass e.g. --config.checkpoint_every_secs=60.'
    )
  for point in points or [{}]:
    opt = sweep.apply_point(config, point).optimizer
    for key in optimizers.numeric_keys(opt):
      value = opt[key]
      if not math.isfinite(value) or value < 0:
        where = f' at the sweep point {sweep.label(point)}' if point else ''
        raise UserError(
          f'optimizer.{key} is {value}{where}: an optimizer number must be finite and not '
          f'negative. Pass e.g. --config.optimizer.{key}=0.001, or fix '
          f'--config.sweep.optimizer.{key}.'
        )


def _check_models(groups, dataset, batch_size):
  """Builds each group's model abstractly (allocating nothing): a bad name fails before training."""
  n = len(dataset.train_y)
  if batch_size > n:
    raise UserError(
      f'--config.train.batch_size={batch_size} is larger than the training set '
      f'({n} images); lower it or enlarge --config.dataset.train_subset.'
    )
  for group in groups:
    try:
      model = loop.build_model(group.config.model)
      jax.eval_shape(
        lambda x, model=model: model.init({'params': jax.random.PRNGKey(0)}, x, train=False),
        dataset.train_x[:1],
      )
      optimizers.make(group.config.optimizer)
    except (ValueError, TypeError) as e:
      raise UserError(
        f'The model or optimizer of {group.name} ({sweep.label(group.points[0])}) '
        f'cannot be built: {e} Fix the model.* / optimizer.* config keys.'
      ) from None


def _status(workdir, **fields):
  files.write_json(os.path.join(workdir, 'status.json'), dict(fields, updated=time.time()))


def load_dataset(config):
  """`data.load` with the config's dataset keys; a 2-D problem's generator keys pass through."""
  ds = config.dataset
  toy = {k: ds[k] for k in ('num_samples', 'noise', 'train_fraction') if k in ds}
  return data.load(
    ds.name,
    data_dir=ds.data_dir or None,
    validation_size=ds.validation_size,
    train_subset=ds.train_subset or None,
    test_subset=ds.test_subset or None,
    seed=ds.split_seed,
    download=ds.download,
    allow_standin=ds.allow_standin,
    **toy,
  )


def run(
  finding,
  config,
  workdir: str,
  *,
  progress: bool = True,
  command: str | None = None,
  worker=None,
  started: float | None = None,
):
  """Trains what is not finished yet, then writes results.json, report.md, plots; returns results.

  `finding` is an engine.finding.Finding (a finding module is checked into one). Its hooks, as
  engine/finding.py defines them: `measure` replaces the training loop (its dict gives the
  results' 'seeds', 'dataset', 'records' and 'train_seconds' plus what the verdict reads);
  `probe` runs inside it; `analyze` runs after it, into results['analysis']; `plot` after the
  verdict.

  `started` (default: now) is when the job began; `--workers=N` gives its workers its own start
  time, so a report written after it is this job's and a worker that starts late leaves it.

  `worker` (engine/workers.py; default: every group) says which groups this process may train;
  each is claimed under a lease in the work dir first, so any number of processes can share
  it. Returns None when groups are left to other workers, or another worker writes the report.
  """
  if not isinstance(finding, finding_lib.Finding):
    finding = finding_lib.from_module(finding)
  experiment, name = finding, finding.name
  if experiment.measure:
    return _measure(experiment, config, workdir, command)
  checkpoints.check_workdir(workdir)
  groups = sweep.groups(config, plan_lib.models_per_program(config))
  dataset = load_dataset(config)
  logging.info('Data: %s', dataset.describe())
  _check_models(groups, dataset, config.train.batch_size)
  plans = [
    plan_lib.resolve(g, len(dataset.train_y), probe=experiment.probe is not None) for g in groups
  ]
  prepare_workdir(workdir, name, config)
  worker = worker or workers.Worker()
  started = started or time.time()
  _running(workdir, groups, started, worker)
  device_data = None
  todo = [(g, p) for g, p in zip(groups, plans) if worker.assigned(g.index)]
  try:
    while todo:
      for group, plan in todo:
        gdir = os.path.join(workdir, 'groups', group.name)
        done = os.path.join(gdir, 'result.json')
        if distributed.agree(_finished_result(done) is not None):
          _read_result(done, group, workdir)
          print(f'{group.name}: finished earlier; not trained again.')
          continue
        with _claim(os.path.join(workdir, 'leases', f'{group.name}.json'), worker) as claim:
          if not claim.ours:
            print(f'{group.name}: being trained by {claim.holder}; left to it.')
            continue
          if distributed.agree(_finished_result(done) is not None):
            print(f'{group.name}: finished by another worker; not trained again.')
            continue
          _running(workdir, groups, started, worker)
          if device_data is None:
            device_data = loop.put_on_device(
              dataset,
              config.train.eval_train_size,
              config.train.eval_batch_size,
              parallel.devices(config),
            )
          with tensorboard.epoch_writer(os.path.join(workdir, 'tensorboard'), group) as on_epoch:
            group_records = loop.train_group(
              group,
              plan,
              device_data,
              gdir,
              progress=progress,
              log=_line_log(progress),
              on_epoch=on_epoch,
              probe=experiment.probe,
            )
          result = {
            'records': group_records,
            'points': [sweep.label(p) for p in group.points],
            'seeds': list(group.seeds),
            'finished_at': time.time(),
            'worker': _me(worker),
          }
          files.write_jsonl(os.path.join(gdir, 'metrics.jsonl'), _metric_rows(group_records))
          files.write_json(done, result)
      # A group whose worker has died since this worker passed it is taken over now.
      pending = _pending(workdir, groups) if jax.process_count() == 1 else {}
      todo = [(g, p) for g, p in todo if pending.get(g.name) == 'not started']
  except BaseException as e:
    _failed(
      workdir,
      e,
      groups_done=_done(workdir, groups),
      groups_total=len(groups),
      started=started,
      worker=_me(worker),
    )
    raise
  pending = _pending(workdir, groups)
  if distributed.agree(bool(pending)):
    _running(workdir, groups, started, worker, pending=pending)
    left = '; '.join(f'{g}: {who}' for g, who in pending.items())
    print(
      f'{_me(worker)}: no group left for this worker; {len(pending)} of {len(groups)} groups '
      f'are not finished ({left}). The worker that finishes the last group writes the report; '
      'a group whose worker died is taken over by the next worker once its lease expires '
      f'({worker.lease_secs:g} s), at once by one on the same host.'
    )
    return None
  # The verdict and the plots read the records, not the images: the arrays go before matplotlib
  # and scipy load, so the report does not raise the run's peak memory.
  dataset_info = _dataset_info(dataset)
  del dataset, device_data
  results_by_group = [
    _read_result(os.path.join(workdir, 'groups', g.name, 'result.json'), g, workdir) for g in groups
  ]
  records = [r for result in results_by_group for r in result['records']]
  train_seconds = sum(
    result['records'][0]['group_seconds'] for result in results_by_group if result['records']
  )
  with _claim(os.path.join(workdir, 'leases', 'report.json'), worker) as claim:
    if not claim.ours:
      print(f'All {len(groups)} groups are finished; {claim.holder} is writing the report.')
      return None
    written = _report_written_after(workdir, max([started] + _finish_times(results_by_group)))
    if distributed.agree(bool(written)):
      print(
        f'All {len(groups)} groups are finished; {written} wrote the report: '
        f'{os.path.join(workdir, "report.md")}'
      )
      return None
    try:
      results = _results(experiment, config, dataset_info, records, train_seconds, workdir)
      verdict = _finish(experiment, results, workdir, command)
    except BaseException as e:
      _failed(
        workdir,
        e,
        groups_done=len(groups),
        groups_total=len(groups),
        started=started,
        worker=_me(worker),
      )
      raise
    _status(
      workdir,
      state='finished',
      groups_done=len(groups),
      groups_total=len(groups),
      started=started,
      finished=time.time(),
      outcome=verdict.outcome,
      worker=_me(worker),
    )
  return results


def _line_log(progress: bool):
  """Where the loop's lines go: stdout beside a progress bar, else one INFO line each through
  Python logging (absl's handler under launch.py), e.g. one per epoch in a cluster job's log."""
  if progress:
    return print
  logger = std_logging.getLogger('jax_findings')
  logger.setLevel(std_logging.INFO)
  return logger.info


def _finished_result(path):
  """A group's result.json, or None when there is none or it cannot be read (a truncated or
  damaged file: the group is trained again, from its checkpoints)."""
  if not files.exists(path):
    return None
  try:
    result = files.read_json(path)
    if not isinstance(result, dict) or not isinstance(result.get('records'), list):
      raise ValueError('not a group result')
  except (OSError, ValueError) as e:
    print(f'{path} is unreadable ({type(e).__name__}: {e}); training that group again.')
    return None
  return result


def _failed(workdir, error, **fields):
  """status.json says why the run stopped: preempted (SIGTERM), interrupted (Ctrl-C) or failed."""
  if isinstance(error, preemption.Preempted):
    state = 'preempted'
  elif isinstance(error, KeyboardInterrupt):
    state = 'interrupted'
  else:
    state = 'failed'
  try:
    _status(workdir, state=state, error=f'{type(error).__name__}: {error}', **fields)
  except OSError:  # a full or vanished disk: the error itself still reaches the user
    pass


def _dataset_info(dataset) -> dict:
  return {
    'name': dataset.name,
    'source': dataset.source,
    'standin': dataset.standin,
    'describe': dataset.describe(),
  }


def _results(experiment, config, dataset_info, records, train_seconds, workdir):
  results = {
    'experiment': experiment.name,
    'config': json.loads(config.to_json(sort_keys=True)),
    'seeds': config.seeds,
    'dataset': dataset_info,
    'records': records,
    'train_seconds': train_seconds,
  }
  if experiment.analyze:
    results['analysis'] = experiment.analyze(results, workdir)
  return results


@dataclasses.dataclass(frozen=True)
class _Claim:
  ours: bool
  holder: str  # who holds it when it is not ours


@contextlib.contextmanager
def _claim(path, worker):
  """Holds the lease at `path` (refreshed in the background) while the block runs, if it is free.

  In a job of several processes, process 0 claims for the job and the others follow its answer.
  """
  got = group_lease.acquire(path, worker.lease_secs) if distributed.is_writer() else None
  ours = distributed.agree(isinstance(got, group_lease.Lease))
  if not ours:
    yield _Claim(False, str(got) if got is not None else 'another worker')
    return
  if got is None:  # a process of a job whose process 0 holds the lease
    yield _Claim(True, '')
    return
  try:
    with group_lease.heartbeat(got, every=worker.lease_secs / 4):
      yield _Claim(True, '')
  finally:
    got.release()


def _running(workdir, groups, started, worker, **fields):
  """Status `running`, unless every group is done: then the report's writer says `finished`,
  and a worker that finished its group just before must not overwrite that."""
  done = _done(workdir, groups)
  if done < len(groups):
    _status(
      workdir, state='running', groups_done=done, groups_total=len(groups), started=started,
      worker=_me(worker), **fields,
    )  # fmt: skip


def _me(worker) -> str:
  return f'{worker} {socket.gethostname()}:{os.getpid()}'


def _read_result(path, group, workdir) -> dict:
  result = files.read_json(path)
  if result.get('points') != [sweep.label(p) for p in group.points] or result.get('seeds') != list(
    group.seeds
  ):
    raise UserError(
      f'{path} holds other points or seeds than this run assigns to {group.name} (the '
      'work dir was written by another version of jax-findings, or with another '
      f'sweep_max_models). Delete {workdir} or pass another --workdir to start fresh.'
    )
  return result


def _done(workdir, groups) -> int:
  return sum(files.exists(os.path.join(workdir, 'groups', g.name, 'result.json')) for g in groups)


def _pending(workdir, groups) -> dict:
  """The unfinished groups, each with the worker training it (or 'not started')."""
  out = {}
  for g in groups:
    if not files.exists(os.path.join(workdir, 'groups', g.name, 'result.json')):
      holder = group_lease.read(os.path.join(workdir, 'leases', f'{g.name}.json'))
      alive = holder is not None and not holder.expired(time.time())
      out[g.name] = f'trained by {holder}' if alive else 'not started'
  return out


def _finish_times(results_by_group) -> list:
  return [r.get('finished_at', 0.0) for r in results_by_group]


def _report_written_after(workdir, since: float) -> str:
  """Who wrote a report after `since` (the last group's end, or this worker's start), or ''.

  So the report is written once: by the worker that finished the last group, not again by one
  that was running beside it; a rerun that started after the report writes it afresh.
  """
  try:
    status = files.read_json(os.path.join(workdir, 'status.json'))
  except (OSError, ValueError):
    return ''
  if status.get('state') == 'finished' and status.get('finished', 0.0) >= since:
    return status.get('worker') or 'another worker'
  return ''


def _measure(experiment, config, workdir, command):
  prepare_workdir(workdir, experiment.name, config)
  started = time.time()
  _status(workdir, state='running', started=started)
  try:
    results = {
      'experiment': experiment.name,
      'config': json.loads(config.to_json(sort_keys=True)),
      **experiment.measure(config, workdir),
    }
    verdict = _finish(experiment, results, workdir, command)
  except BaseException as e:
    _failed(workdir, e, started=started)
    raise
  _status(workdir, state='finished', started=started, finished=time.time(), outcome=verdict.outcome)
  return results


def _finish(experiment, results, workdir, command):
  """The verdict, plots, results.json, metrics.jsonl, report.md and the terminal summary."""
  verdict = experiment.verdict(results)
  results['verdict'] = verdict.to_json()
  plots = experiment.plot(results, workdir) if experiment.plot else []
  files.write_json(os.path.join(workdir, 'results.json'), results)
  files.write_jsonl(os.path.join(workdir, 'metrics.jsonl'), _metric_rows(results['records']))
  command = command or 'python ' + ' '.join(shlex.quote(a) for a in sys.argv)
  report.write(
    workdir,
    name=experiment.name,
    doc=experiment.doc,
    verdict=verdict,
    results=results,
    plots=plots,
    command=command,
  )
  _print_summary(experiment.name, verdict, workdir, results['dataset'])
  return verdict


def _metric_rows(records):
  rows = []
  for r in records:
    epochs = len(next(iter(r['history'].values()), []))
    for e in range(epochs):
      rows.append(
        {
          'point': r['point'],
          'seed': r['seed'],
          'epoch': e + 1,
          **{k: v[e] for k, v in r['history'].items()},
        }
      )
  return rows


def _print_summary(name, verdict, workdir, dataset):
  print()
  if dataset['standin']:
    print('!' * 78)
    print('WARNING: real data not found; trained on the embedded stand-in: ' + dataset['source'])
    print('!' * 78)
  print(report.text_table(verdict.table))
  print()
  print(report.text_table(report.claims_rows(verdict, with_threshold=False)))
  print()
  for reason in verdict.reasons:
    print(f'INCONCLUSIVE because {reason}')
  print(f'{name}: {verdict.outcome}. Report: {os.path.join(workdir, "report.md")}')
