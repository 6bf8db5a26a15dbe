"""The benchmark suite: the framework's own train paths against PyTorch eager, in one run.

    python -m bench                  # everything (about 10 minutes on 2 cores)
    python -m bench --skip_sweep     # without the end-to-end sweep (about 2 minutes)

Every JAX figure comes from the engine's real programs (`engine.loop.start_group`, the step or
scanned-epoch program `launch.py` trains with) or, for the sweep, from `launch.py` itself. The
PyTorch peers (bench/torch_peers.py) are idiomatic eager float32 code with in-memory tensors
and the same thread count. Each framework runs in a process of its own (bench/worker.py; the
sweep: one process per run), timed in alternating rounds A B, B A, ...; throughputs are
medians over the rounds, with their spread (bench/timing.py: rounds wait for a quiet machine,
and the result says whether it got one, beside the load average). Each side's peak RSS is its
own process's. Compile time is tracing, lowering and compiling the step program (jit reuses
it). GFLOP/s use XLA's cost analysis of the compiled step, for both frameworks (same
architecture, same arithmetic), next to the matmul roofline measured in this run, also in
worker processes.

Writes bench/results/<date>T<time>-<host>.json and appends the table to BENCHMARKS.md.
"""

from engine import cpu_setup

cpu_setup.configure()

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from bench import machine, timing, worker  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGETS = {  # issue 19: speed-ups over the PyTorch peer measured in the same run, and limits
  'mlp_epoch': 4.0,
  'cnn_f32': 2.0,
  'cnn_roofline': 0.45,  # of the f32 matmul roofline measured in the same run
  'cnn_amx_vs_torch_bf16': 1.5,  # only where the CPU has AMX
  'lenet': 1.5,
  'sweep_e2e': 1.7,
  'sweep_rss': 1.0,  # JAX sweep peak RSS / PyTorch loop's, at most
  'compile_seconds': 10.0,
  'suite_seconds': 360.0,  # the whole pytest run, as CI runs it (--suite)
}
WORKLOADS = {
  'mlp': dict(
    model=dict(
      name='mlp',
      hidden=(100,),
      num_classes=10,
      activation='relu',
      kernel_init='glorot_uniform',
      init_scale=1.0,
      batch_norm=False,
    ),
    optimizer=dict(name='adam', learning_rate=1e-3),
    batch_size=32,
  ),
  'cnn': dict(
    model=dict(
      name='cnn',
      conv_features=(16, 32),
      kernel_size=3,
      padding='SAME',
      dense=(128,),
      num_classes=10,
      activation='relu',
      kernel_init='glorot_uniform',
      init_scale=1.0,
      batch_norm=False,
      dropout_after_conv=True,
      dropout_after_dense=False,
    ),
    optimizer=dict(name='adam', learning_rate=1e-3),
    batch_size=128,
  ),
  'lenet': dict(
    model=dict(name='caffe_lenet', num_classes=10),
    optimizer=dict(name='sgd', learning_rate=0.01, momentum=0.9),
    batch_size=64,
  ),
  # 003 P8's recipe (experiments/resnet18_cifar.py) at a CPU-sized batch; one step per call
  # on CPU, as the finding's quick variant runs it
  'resnet': dict(
    model=dict(name='resnet18', stem='cifar', num_classes=10),
    optimizer=dict(name='sgd', learning_rate=0.1, momentum=0.9, l2_weight_decay=5e-4),
    batch_size=32,
    train=dict(steps_per_call=1),
    steps_per_run=2,  # a timed call: seconds per step on a laptop CPU
  ),
}
RESNET_AUGMENT = dict(
  crop_padding=4, flip_probability=0.5, mean=(0.4914, 0.4822, 0.4465), std=(0.2023, 0.1994, 0.201)
)


mnist = worker.mnist


def engine_trainer(
  workload: str,
  images,
  labels,
  dtype='float32',
  dropout_rate=0.5,
  with_start=False,
  augment=None,
  batch_size=None,
):
  """The engine's program for `workload` on one model, as a timing callable.

  Returns (run, info): `run()` trains one program call (one step for conv nets on CPU, the
  whole epoch for the MLP, exactly as `loop.train_group` would) and returns the samples it
  processed; info holds the compile seconds, steps per call and XLA's FLOPs per step.
  """
  import jax
  import jax.numpy as jnp
  import ml_collections

  from engine import base_config, loop, plan, sweep

  w = WORKLOADS[workload]
  model = dict(w['model'], dropout_rate=dropout_rate)
  if workload != 'mlp':
    model['dtype'] = dtype
  config = base_config.get_config()
  config.model = ml_collections.ConfigDict(model)
  config.optimizer = ml_collections.ConfigDict(w['optimizer'])
  batch_size = batch_size or w['batch_size']
  config.train.update(dict(batch_size=batch_size, epochs=1, **w.get('train', {})))
  if augment:
    config.augment = ml_collections.ConfigDict(augment)
  config.seeds = 1
  [group] = sweep.groups(config, 1)
  images, labels = jax.device_put(images), jax.device_put(labels)
  n = int(labels.shape[0])
  group_plan = plan.resolve(group, n)
  spe, chunk = group_plan.steps_per_epoch, group_plan.steps_per_call
  start = loop.start_group(group, group_plan, images)
  keys, states = start.keys, start.states
  step, steps = start.programs.step, start.programs.steps
  perms = start.programs.permutations(keys, 0, n)
  carry = {
    'states': states,
    'sums': {k: jnp.zeros((1,), jnp.float32) for k in ('loss_sum', 'correct', 'count')},
    'i': 0,
  }
  per_call = chunk if chunk > 1 else w.get('steps_per_run', 10)

  def call_once():
    i = carry['i']
    if chunk > 1:
      carry['states'], carry['sums'] = steps(
        carry['states'], carry['sums'], perms, chunk, 0, keys, images, labels
      )
    else:
      carry['states'], carry['sums'] = step(
        carry['states'], carry['sums'], perms, i % spe, keys, images, labels
      )
    carry['i'] = i + 1

  def run():
    for _ in range(1 if chunk > 1 else per_call):
      call_once()
    jax.block_until_ready(carry['sums'])
    return per_call * batch_size

  t0 = time.perf_counter()
  one = step.lower(carry['states'], carry['sums'], perms, 0, keys, images, labels).compile()
  if chunk > 1:
    t0 = time.perf_counter()
    steps.lower(carry['states'], carry['sums'], perms, chunk, 0, keys, images, labels).compile()
  compile_seconds = time.perf_counter() - t0
  # XLA counts a loop body once, so the FLOPs of a step come from the one-step program.
  cost = one.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  flops_per_step = float(cost.get('flops', float('nan')))
  call_once()  # the first call: jit finds the program compiled above
  jax.block_until_ready(carry['sums'])
  info = {
    'compile_seconds': compile_seconds,
    'steps_per_call': chunk,
    'flops_per_step': flops_per_step,
    'batch_size': batch_size,
  }
  # The warm-up call donated the initial states: the start, with the states of now.
  return (run, info, start._replace(states=carry['states'])) if with_start else (run, info)


def pair(specs: dict[str, dict], rounds: int, min_time: float) -> tuple[dict, dict]:
  """Alternating rounds of each spec in its own worker process.

  Returns (rates, infos): timing.interleave_rounds' entry per name, with the worker's peak RSS
  added, and each worker's info (compile seconds, FLOPs per step ...). Workers start one after
  another, so compiles do not overlap; an idle worker sleeps.
  """
  workers = {}
  try:
    for name, spec in specs.items():
      timing.wait_quiet(max_wait=timing.QUIET_WAIT)
      workers[name] = worker.Worker(spec)
    res = timing.interleave_rounds(
      {k: w.round for k, w in workers.items()}, rounds=rounds, min_time=min_time
    )
    for k, w in workers.items():
      res[k]['peak_rss_mb'] = w.close()
  finally:
    for w in workers.values():
      if w.peak_rss_mb is None:
        w.proc.kill()
        w.proc.wait()
  return res, {k: w.info for k, w in workers.items()}


def roofline(rounds: int = 3, bf16: bool = False) -> dict:
  """GFLOP/s of a 2048^3 matmul per framework (bf16: inputs bf16, f32 accumulation).

  Each in its own worker, alternating, like the workloads: the ceiling a step cannot beat.
  """
  specs = {'jax_f32': {'framework': 'jax', 'workload': 'matmul'}}
  specs['torch_f32'] = {'framework': 'torch', 'workload': 'matmul'}
  if bf16:
    specs['jax_bf16'] = {'framework': 'jax', 'workload': 'matmul', 'dtype': 'bfloat16'}
    specs['torch_bf16'] = {'framework': 'torch', 'workload': 'matmul', 'dtype': 'bfloat16'}
  res, infos = pair(specs, rounds, min_time=1.0)
  out = {k: r['median'] * infos[k]['flops_per_item'] / 1e9 for k, r in res.items()}
  out['n'] = worker.MATMUL_N
  out['loadavg'] = res['jax_f32']['loadavg']
  return out


def _row(name, jax_rate, torch_rate, info, roof, unit='samples/s', torch_name='torch f32'):
  flops_per_sample = info['flops_per_step'] / info['batch_size']
  gflops = jax_rate['median'] * flops_per_sample / 1e9
  return {
    'workload': name,
    'peer': torch_name,
    'unit': unit,
    'jax': jax_rate['median'],
    'torch': torch_rate['median'],
    'ratio': jax_rate['median'] / torch_rate['median'],
    'jax_spread': [jax_rate['min'], jax_rate['max']],
    'torch_spread': [torch_rate['min'], torch_rate['max']],
    'rounds': len(jax_rate['samples']),
    'clean': jax_rate['clean'] and torch_rate['clean'],
    'other_cores': max(jax_rate['other_cores'], torch_rate['other_cores']),
    'loadavg': jax_rate['loadavg'],
    'jax_peak_rss_mb': jax_rate['peak_rss_mb'],
    'torch_peak_rss_mb': torch_rate['peak_rss_mb'],
    'compile_seconds': info['compile_seconds'],
    'gflops': gflops,
    'roofline_fraction': gflops / roof['jax_f32'] if roof.get('jax_f32') else None,
    'torch_gflops': torch_rate['median'] * flops_per_sample / 1e9,
  }


def bench_mlp(roof, rounds):
  """Workload 1: one epoch of 60,000 MNIST images, MLP 784-100-10, batch 32, Adam."""
  res, infos = pair(
    {
      'jax': {'framework': 'jax', 'workload': 'mlp'},
      'torch': {'framework': 'torch', 'workload': 'mlp'},
    },
    rounds,
    min_time=0.0,  # one call = one epoch on each side
  )
  row = _row(
    '1. MLP 784-100-10 epoch (60k, batch 32, Adam)', res['jax'], res['torch'], infos['jax'], roof
  )
  row['jax_seconds'] = 60000 / res['jax']['median']
  row['torch_seconds'] = 60000 / res['torch']['median']
  row['steps_per_call'] = infos['jax']['steps_per_call']
  return [row]


def bench_step(workload, roof, rounds, bf16):
  """Workloads 2 and 4: train samples/s of the sweep CNN (Adam, 128) / Caffe LeNet (SGD, 64)."""
  specs = {
    'jax f32': {'framework': 'jax', 'workload': workload},
    'torch f32': {'framework': 'torch', 'workload': workload},
  }
  if bf16:
    specs['jax bf16'] = {'framework': 'jax', 'workload': workload, 'dtype': 'bfloat16'}
    specs['torch bf16'] = {'framework': 'torch', 'workload': workload, 'dtype': 'bfloat16'}
  res, infos = pair(specs, rounds, min_time=0.8)
  title = {
    'cnn': '2. dropout-sweep CNN step (batch 128, Adam)',
    'lenet': '4. Caffe LeNet step (batch 64, SGD momentum)',
  }[workload]
  rows = [_row(f'{title}, f32', res['jax f32'], res['torch f32'], infos['jax f32'], roof)]
  if bf16:
    rows.append(
      _row(
        f'{title}, jax bf16 vs torch f32',
        res['jax bf16'],
        res['torch f32'],
        infos['jax bf16'],
        roof,
      )
    )
    best = max(('jax f32', 'jax bf16'), key=lambda k: res[k]['median'])
    rows.append(
      _row(
        f'{title}, {best} vs torch autocast bf16',
        res[best],
        res['torch bf16'],
        infos[best],
        roof,
        torch_name='torch bf16 autocast',
      )
    )
  return rows


def bench_resnet(roof, rounds, batch_size=32):
  """Workload 5: train samples/s of the CIFAR ResNet-18 step (003 P8's recipe), both frameworks
  without augmentation, plus the engine's step with its on-device crop, flip and normalization.

  Generated images in CIFAR-10's shapes: the speed does not depend on the pixels. Both sides
  run in this process (`--only resnet`, not in the default set: a ResNet-18 step takes seconds
  on a laptop CPU), so this row is not measured as fairly as the others.
  """
  from bench import torch_peers
  from data import cifar10

  found = cifar10.generate(seed=0, train_size=20 * batch_size, test_size=1)
  x = found.train_images.astype(np.float32) / 255.0
  y = found.train_labels.astype(np.int32)
  fns, infos = {}, {}
  fns['jax f32'], infos['jax f32'] = engine_trainer(
    'resnet', x, y, dropout_rate=0.0, batch_size=batch_size
  )
  fns['jax f32 + augment'], infos['jax f32 + augment'] = engine_trainer(
    'resnet', x, y, dropout_rate=0.0, augment=RESNET_AUGMENT, batch_size=batch_size
  )
  peer = torch_peers.make_step('resnet18', x, y, batch=batch_size, steps_per_call=2)
  fns['torch f32'] = peer
  res = timing.interleave(fns, rounds=rounds, min_time=2.0)
  for r in res.values():  # one process for both sides here: no per-side peak RSS
    r['peak_rss_mb'] = None
  title = f'5. CIFAR ResNet-18 step (batch {batch_size}, SGD momentum + weight decay)'
  return [
    _row(f'{title}, f32', res['jax f32'], res['torch f32'], infos['jax f32'], roof),
    _row(
      f'{title}, jax with on-device augmentation vs torch without',
      res['jax f32 + augment'],
      res['torch f32'],
      infos['jax f32 + augment'],
      roof,
    ),
  ]


def _child_rusage(cmd, env):
  """Runs `cmd`; returns (wall seconds, peak RSS in MB, stdout, cores others used meanwhile).

  The peak is the child's own VmHWM, polled while it runs: wait4's ru_maxrss would report at
  least this (large) process's RSS, which the child inherits at fork.
  """
  timing.wait_quiet(max_wait=timing.QUIET_WAIT)
  children_cpu = lambda: sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2])
  cpu0 = children_cpu()
  load = timing.meter()
  t0 = time.perf_counter()
  with tempfile.TemporaryFile('w+') as out_file:
    proc = subprocess.Popen(
      cmd, cwd=ROOT, env=env, stdout=out_file, stderr=subprocess.STDOUT, text=True
    )
    peak = 0.0
    while proc.poll() is None:
      peak = max(peak, worker.peak_rss_mb(proc.pid))
      time.sleep(0.05)
    wall = time.perf_counter() - t0
    child_cpu = children_cpu() - cpu0
    out_file.seek(0)
    out = out_file.read()
  if proc.returncode != 0:
    raise RuntimeError(f'{" ".join(cmd)} failed ({proc.returncode}):\n{out[-3000:]}')
  # Our own rusage leaves out the child's, so its CPU shows up as "others": subtract it.
  return wall, peak, out, max(0.0, load.other_cores() - child_cpu / wall)


def sweep_spec(seeds=1, train_subset=0) -> dict:
  """What the finding's sweep does, read from its config: the PyTorch loop does the same."""
  from experiments import dropout_sweep

  c = dropout_sweep.get_config()
  return {
    'rates': [float(r) for r in c.sweep.model.dropout_rate],
    'seeds': seeds,
    'epochs': c.train.epochs,
    'batch_size': c.train.batch_size,
    'eval_batch_size': c.train.eval_batch_size,
    'eval_train_size': c.train.eval_train_size,
    'validation_size': c.dataset.validation_size,
    'train_subset': train_subset,
  }


def bench_sweep(seeds=1, train_subset=0, rounds=2):
  """Workload 3: the 10-point dropout sweep, 1 epoch each, end to end in fresh processes.

  JAX: `launch.py --experiment=dropout_sweep --config.seeds=1` (data loading, compile, training,
  per-epoch evaluation of train 10k / validation / test, checkpoints, report). PyTorch: one
  process looping over the same rates, seeds and epochs with the same evaluations
  (`sweep_spec`). Runs alternate J T, T J, ...; the median wall time of each side counts.
  """
  env = dict(os.environ)
  spec = sweep_spec(seeds, train_subset)
  runs = {'jax': [], 'torch': []}
  load_before = timing.loadavg()
  for r in range(rounds):
    for side in ('jax', 'torch') if r % 2 == 0 else ('torch', 'jax'):
      if side == 'jax':
        with tempfile.TemporaryDirectory() as tmp:
          wall, rss, _, other = _child_rusage(
            [
              sys.executable,
              'launch.py',
              '--experiment=dropout_sweep',
              f'--config.seeds={seeds}',
              f'--workdir={tmp}/run',
              '--progress=false',
              f'--config.dataset.train_subset={train_subset}',
            ],
            env,
          )
          res = json.load(open(os.path.join(tmp, 'run', 'results.json')))
      else:
        wall, rss, out, other = _child_rusage(
          [sys.executable, '-m', 'bench.torch_sweep', f'--spec={json.dumps(spec)}'], env
        )
        res = json.loads(out.strip().splitlines()[-1])
      runs[side].append({'wall': wall, 'rss': rss, 'other': other, 'res': res})
  med = lambda side, k: statistics.median(x[k] for x in runs[side])
  jax_res, torch_res = runs['jax'][-1]['res'], runs['torch'][-1]['res']
  jax_acc = {}
  for rec in jax_res['records']:
    jax_acc.setdefault(rec['point']['model.dropout_rate'], []).append(rec['final']['test_accuracy'])
  others = [x['other'] for side in runs.values() for x in side]
  return {
    'workload': (
      f'3. dropout sweep, {len(spec["rates"])} rates x {spec["epochs"]} epoch, end to end'
    ),
    'unit': 'seconds',
    'peer': 'torch f32 loop, same evaluations',
    'jax': med('jax', 'wall'),
    'torch': med('torch', 'wall'),
    'ratio': med('torch', 'wall') / med('jax', 'wall'),
    'jax_spread': [min(x['wall'] for x in runs['jax']), max(x['wall'] for x in runs['jax'])],
    'torch_spread': [min(x['wall'] for x in runs['torch']), max(x['wall'] for x in runs['torch'])],
    'rounds': rounds,
    'jax_peak_rss_mb': max(x['rss'] for x in runs['jax']),
    'torch_peak_rss_mb': max(x['rss'] for x in runs['torch']),
    'other_cores': others,
    'clean': max(others) < 0.3,
    'loadavg': [load_before, timing.loadavg()],
    'spec': spec,
    'verdict': jax_res['verdict']['outcome'],
    'jax_group_seconds': statistics.median(x['res']['train_seconds'] for x in runs['jax']),
    'torch_train_eval_seconds': statistics.median(x['res']['seconds'] for x in runs['torch']),
    'torch_eval_seconds': statistics.median(x['res']['eval_seconds'] for x in runs['torch']),
    'torch_evaluated': torch_res['evaluated_per_model_epoch'],
    'jax_test_accuracy': {str(k): float(np.mean(v)) for k, v in sorted(jax_acc.items())},
    'torch_test_accuracy': torch_res['accuracy'],
  }


def suite_seconds():
  """Wall seconds of the whole test suite as CI runs it (`python -m pytest -q`)."""
  t0 = time.perf_counter()
  proc = subprocess.run([sys.executable, '-m', 'pytest', '-q'], cwd=ROOT, capture_output=True)
  return {
    'workload': '6. the whole test suite (pytest)',
    'unit': 'seconds',
    'seconds': time.perf_counter() - t0,
    'passed': proc.returncode == 0,
  }


def targets(rows, flags=None):
  """Each issue-19 target with its goal, the measured value and met (None: not measured here).

  `flags`: the CPU's ISA flags (machine.cpu_flags()); the bf16 target applies only with AMX.
  """
  by = {r['workload']: r for r in rows}
  first = lambda prefix: next((r for k, r in by.items() if k.startswith(prefix)), None)
  out = []

  def add(name, value, goal, kind='>=', note='', row=None):
    if value is None:
      met = None
    else:
      met = value >= goal if kind == '>=' else value <= goal if kind == '<=' else value < goal
    if row is not None and not row.get('clean', True):
      note = 'not clean: others used the cores; re-measure on a quiet machine'
    out.append(
      {'target': name, 'goal': f'{kind} {goal}', 'measured': value, 'met': met, 'note': note}
    )

  get = lambda row, key: None if row is None else row.get(key)
  mlp, lenet, sweep, suite = first('1.'), first('4.'), first('3.'), first('6.')
  cnn = [r for k, r in by.items() if k.startswith('2.')]
  cnn_f32 = cnn[0] if cnn else None
  add('MLP epoch vs torch f32', get(mlp, 'ratio'), TARGETS['mlp_epoch'], row=mlp)
  add('CNN step f32 vs torch f32', get(cnn_f32, 'ratio'), TARGETS['cnn_f32'], row=cnn_f32)
  add(
    'CNN step f32, share of the f32 matmul roofline',
    get(cnn_f32, 'roofline_fraction'),
    TARGETS['cnn_roofline'],
    row=cnn_f32,
  )
  amx = bool((flags or {}).get('amx_bf16'))
  bf = next((r for r in cnn if r['peer'] == 'torch bf16 autocast'), None)
  add(
    'CNN step, fastest jax vs torch autocast bf16 (AMX hosts)',
    get(bf, 'ratio') if amx else None,
    TARGETS['cnn_amx_vs_torch_bf16'],
    note='' if amx else 'applies only where the CPU has AMX; this one has none',
    row=bf if amx else None,
  )
  add('Caffe LeNet step vs torch f32', get(lenet, 'ratio'), TARGETS['lenet'], row=lenet)
  add(
    '10-rate sweep end to end vs torch (same work)',
    get(sweep, 'ratio'),
    TARGETS['sweep_e2e'],
    row=sweep,
  )
  rss = None
  if sweep and sweep.get('torch_peak_rss_mb'):
    rss = sweep['jax_peak_rss_mb'] / sweep['torch_peak_rss_mb']
  add('sweep peak RSS, jax / torch', rss, TARGETS['sweep_rss'], kind='<=')
  compiles = [r['compile_seconds'] for r in rows if r.get('compile_seconds') is not None]
  add('slowest compile (s)', max(compiles) if compiles else None, TARGETS['compile_seconds'], '<')
  add(
    'whole test suite (s)',
    get(suite, 'seconds'),
    TARGETS['suite_seconds'],
    kind='<',
    note='' if suite else 'run with --suite to time it',
  )
  return out


def _fmt(v, digits=2):
  if v is None:
    return '-'
  if isinstance(v, bool):
    return 'yes' if v else 'NO'
  if isinstance(v, float):
    return f'{v:,.0f}' if abs(v) >= 1000 else f'{v:.{digits}f}'
  return str(v)


def _met(t):
  return 'not measured' if t['met'] is None else 'met' if t['met'] else 'MISSED'


def _spread(r, side):
  lo_hi = r.get(f'{side}_spread')
  return '' if not lo_hi else f' ({_fmt(float(lo_hi[0]))}-{_fmt(float(lo_hi[1]))})'


def _load(r):
  la = r.get('loadavg') or []
  return '-' if None in la or not la else '/'.join(f'{x:.1f}' for x in la)


def markdown(result):
  m, roof = result['machine'], result['roofline']
  isa = ','.join(k for k, v in m['flags'].items() if v) or 'none'
  lines = [
    f'## {result["date"]} on {result["host"]}',
    '',
    f'{m["cpu_model"]} ({m["vendor"]}), {m["threads"]} threads, ISA {isa}; jax {m["jax"]}, '
    f'flax {m["flax"]}, torch {m["torch"]}',
    '',
    'Each framework in its own process, alternating rounds; medians (min-max) over the rounds; '
    'load = 1-minute load average before/after the rounds (the machine has '
    f'{m["cores"]} cores); clean = no other process used 0.3 cores or more during them.',
    '',
    f'Matmul roofline ({roof.get("n")}^3, GFLOP/s, this run, load {_load(roof)}): '
    + ', '.join(f'{k} {v:.0f}' for k, v in roof.items() if isinstance(v, float)),
    '',
    '| workload | unit | jax-findings | PyTorch | peer | ratio | rounds | compile s | GFLOP/s '
    '| of f32 roofline | peak RSS MB jax / torch | load | clean |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ]
  for r in result['rows']:
    if 'jax' not in r:
      continue
    lines.append(
      f'| {r["workload"]} | {r["unit"]} | {_fmt(r["jax"])}{_spread(r, "jax")} | '
      f'{_fmt(r["torch"])}{_spread(r, "torch")} | {r["peer"]} | {_fmt(r["ratio"])}x | '
      f'{r.get("rounds", "-")} | {_fmt(r.get("compile_seconds"))} | '
      f'{_fmt(r.get("gflops"), 1)} | {_fmt(r.get("roofline_fraction"), 3)} | '
      f'{_fmt(r.get("jax_peak_rss_mb"), 0)} / {_fmt(r.get("torch_peak_rss_mb"), 0)} | '
      f'{_load(r)} | {_fmt(r.get("clean", True))} |'
    )
  lines += ['', '| target | goal | measured | result |', '|---|---|---|---|']
  for t in result['targets']:
    note = f' ({t["note"]})' if t.get('note') else ''
    lines.append(f'| {t["target"]} | {t["goal"]} | {_fmt(t["measured"])} | {_met(t)}{note} |')
  sw = next((r for r in result['rows'] if r['workload'].startswith('3.')), None)
  if sw:
    lines.append('')
    lines.append(
      f'- sweep, where the time goes: jax {sw["jax"]:.1f} s = '
      f'{sw["jax_group_seconds"]:.1f} s training and evaluation + '
      f'{sw["jax"] - sw["jax_group_seconds"]:.1f} s start-up, data, compile, report; '
      f'torch {sw["torch"]:.1f} s = {sw["torch_train_eval_seconds"]:.1f} s training '
      f'and evaluation (of which evaluation {sw["torch_eval_seconds"]:.1f} s) + '
      f'{sw["torch"] - sw["torch_train_eval_seconds"]:.1f} s start-up and data; each model '
      f'evaluated per epoch on {sw["torch_evaluated"]} images on both sides'
    )
    lines.append(
      f'- sweep verdict {sw["verdict"]}; test accuracy per rate (jax / torch): '
      + ', '.join(
        f'{k}: {sw["jax_test_accuracy"][k]:.4f} / '
        f'{sw["torch_test_accuracy"].get(k, float("nan")):.4f}'
        for k in sw['jax_test_accuracy']
      )
    )
  suite = next((r for r in result['rows'] if r['workload'].startswith('6.')), None)
  if suite:
    lines.append(f'- test suite: {suite["seconds"]:.0f} s, passed: {suite["passed"]}')
  lines += [f'- env {m["env"]}', '']
  return '\n'.join(lines)


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  p.add_argument('--rounds', type=int, default=5, help='alternating timing rounds per workload')
  p.add_argument('--sweep_rounds', type=int, default=2, help='alternating runs of the sweep')
  p.add_argument('--skip_sweep', action='store_true', help='leave out workload 3 (end to end)')
  p.add_argument('--suite', action='store_true', help='also time the whole test suite (pytest)')
  p.add_argument(
    '--only', default='', help='comma-separated subset of mlp,cnn,lenet,sweep,suite,resnet'
  )
  p.add_argument('--resnet_batch', type=int, default=32, help='batch of workload 5 (ResNet-18)')
  p.add_argument('--out', default=os.path.join(ROOT, 'bench', 'results'))
  p.add_argument('--history', default=os.path.join(ROOT, 'BENCHMARKS.md'))
  p.add_argument(
    '--quiet_wait',
    type=float,
    default=10.0,
    help='seconds each timing round waits for other processes to go quiet',
  )
  p.add_argument(
    '--smoke',
    action='store_true',
    help='check the plumbing fast: one round, no waiting or retries (numbers noisy)',
  )
  a = p.parse_args(argv)
  timing.QUIET_WAIT = a.quiet_wait
  if a.smoke:
    a.rounds, a.sweep_rounds, timing.QUIET_WAIT, timing.RETRY_FACTOR = 1, 1, 0.0, 1
  only = set(filter(None, a.only.split(','))) or {'mlp', 'cnn', 'lenet', 'sweep'}
  if a.skip_sweep:
    only.discard('sweep')
  if a.suite:
    only.add('suite')
  try:
    import torch  # noqa: F401
  except ImportError:
    sys.exit(
      'error: PyTorch is not installed. The suite compares against it: pip install -e '
      "'.[bench]' (installs torch==2.13.0, CPU build), then rerun python -m bench."
    )
  bf16 = machine.has_native_bf16()
  print(machine.summary(), f'load {timing.loadavg()}', flush=True)
  roof = roofline(bf16=bf16, rounds=1 if a.smoke else 3)
  print(
    'roofline GFLOP/s:', {k: round(v) for k, v in roof.items() if isinstance(v, float)}, flush=True
  )
  rows = []
  steps = [
    ('mlp', lambda: bench_mlp(roof, a.rounds)),
    ('cnn', lambda: bench_step('cnn', roof, a.rounds, bf16)),
    ('lenet', lambda: bench_step('lenet', roof, a.rounds, bf16)),
    ('resnet', lambda: bench_resnet(roof, a.rounds, a.resnet_batch)),
    (
      'sweep',
      lambda: [bench_sweep(train_subset=2000 if a.smoke else 0, rounds=a.sweep_rounds)],
    ),
    ('suite', lambda: [suite_seconds()]),
  ]
  for name, fn in steps:
    if name in only:
      t0 = time.perf_counter()
      new = fn()
      rows += new
      for r in new:
        print(
          f'  {r["workload"]}: '
          + ', '.join(
            f'{k}={_fmt(v)}'
            for k, v in r.items()
            if k
            in (
              'jax',
              'torch',
              'ratio',
              'compile_seconds',
              'jax_peak_rss_mb',
              'torch_peak_rss_mb',
              'clean',
              'seconds',
            )
          ),
          f'load {_load(r)} ({time.perf_counter() - t0:.0f} s)',
          flush=True,
        )
  now = datetime.datetime.now()
  host = socket.gethostname()
  info = machine.info()
  result = {
    'date': now.isoformat(timespec='seconds'),
    'host': host,
    'machine': info,
    'roofline': roof,
    'rows': rows,
  }
  result['targets'] = targets(rows, info['flags'])
  md = markdown(result)
  print()
  print(md)
  os.makedirs(a.out, exist_ok=True)
  path = os.path.join(a.out, f'{now:%Y-%m-%dT%H%M}-{host}.json')  # one file per run
  with open(path + '.tmp', 'w') as f:
    json.dump(result, f, indent=1)
  os.replace(path + '.tmp', path)
  if not os.path.exists(a.history):
    with open(a.history, 'w') as f:
      f.write(
        '# Benchmark history\n\nEach entry is one run of `python -m bench` (README, '
        '"Benchmarks"); ratios are jax-findings over PyTorch measured in the same run.\n\n'
      )
  with open(a.history, 'a') as f:
    f.write(md + '\n')
  print(f'Wrote {path} and appended to {a.history}.')


if __name__ == '__main__':
  main()
