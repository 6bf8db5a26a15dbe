"""The benchmark suite: the framework's own train paths against PyTorch eager, in one run.

    python -m bench                  # everything (about 6 minutes on 2 cores)
    python -m bench --skip_sweep     # without the end-to-end sweep (about 2 minutes)

Every JAX figure comes from the engine's real programs (`engine.loop.start_group`, the step or
scanned-epoch program `launch.py` trains with) or, for the sweep, from `launch.py` itself in a
child process. The PyTorch peers (bench/torch_peers.py) are idiomatic eager float32 code with
in-memory tensors and the same thread count. Throughputs are medians of interleaved rounds
(bench/timing.py: rounds wait for a quiet machine, and the result says whether it got one);
compile time is tracing, lowering and compiling the step program (jit reuses it). GFLOP/s use
XLA's cost analysis of the compiled step, for both frameworks (same architecture, same
arithmetic), next to the matmul roofline measured in this run.

Writes bench/results/<date>-<host>.json and appends the table to BENCHMARKS.md.
"""

from engine import cpu_setup

cpu_setup.configure()

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from bench import machine, roofline, timing, torch_peers  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGETS = {  # issue 4: minimum speed-ups over the PyTorch peer measured in the same run
  'mlp_epoch': 4.0,
  'cnn_f32': 1.0,
  'cnn_fastest': 1.5,
  'cnn_vs_torch_bf16': 1.0,
  'sweep_e2e': 1.5,
  'compile_seconds': 10.0,
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


def mnist(validation_size=5000):
  import data

  root = os.environ.get('JAX_FINDINGS_DATA') or os.path.join(
    os.path.dirname(ROOT), 'shared', 'datasets'
  )
  return data.load(
    'mnist', data_dir=root, validation_size=validation_size, download=False, allow_standin=False
  )


def engine_trainer(
  workload: str, images, labels, dtype='float32', dropout_rate=0.5, augment=None, batch_size=None
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
  return run, {
    'compile_seconds': compile_seconds,
    'steps_per_call': chunk,
    'flops_per_step': flops_per_step,
    'batch_size': batch_size,
  }


def _row(name, jax_rate, torch_rate, info, roof, unit='samples/s', torch_name='torch f32'):
  flops_per_sample = info['flops_per_step'] / info['batch_size']
  gflops = jax_rate['median'] * flops_per_sample / 1e9
  return {
    'workload': name,
    'peer': torch_name,
    'unit': unit,
    'jax': jax_rate['median'],
    'torch': torch_rate['median'] if torch_rate else None,
    'ratio': jax_rate['median'] / torch_rate['median'] if torch_rate else None,
    'jax_spread': [jax_rate['min'], jax_rate['max']],
    'torch_spread': [torch_rate['min'], torch_rate['max']] if torch_rate else None,
    'clean': jax_rate['clean'] and (torch_rate or {}).get('clean', True),
    'compile_seconds': info['compile_seconds'],
    'gflops': gflops,
    'roofline_fraction': gflops / roof['jax_f32'] if roof.get('jax_f32') else None,
    'torch_gflops': (torch_rate['median'] * flops_per_sample / 1e9) if torch_rate else None,
  }


def bench_mlp(roof, rounds):
  """Workload 1: one epoch of 60,000 MNIST images, MLP 784-100-10, batch 32, Adam."""
  ds = mnist(validation_size=0)
  x, y = ds.train_x, ds.train_y
  assert len(y) == 60000, len(y)
  run, info = engine_trainer('mlp', x, y, dropout_rate=0.0)  # the peer has no dropout either
  peer = torch_peers.make_step('mlp', x, y, batch=32, steps_per_call=len(y) // 32)
  res = timing.interleave({'jax': run, 'torch': peer}, rounds=rounds, min_time=0.0)
  row = _row('1. MLP 784-100-10 epoch (60k, batch 32, Adam)', res['jax'], res['torch'], info, roof)
  row['jax_seconds'] = 60000 / res['jax']['median']
  row['torch_seconds'] = 60000 / res['torch']['median']
  row['steps_per_call'] = info['steps_per_call']
  return [row]


def bench_step(workload, roof, rounds, bf16):
  """Workloads 2 and 4: train samples/s of the sweep CNN (Adam, 128) / Caffe LeNet (SGD, 64)."""
  ds = mnist()
  x, y = ds.train_x, ds.train_y
  fns, infos = {}, {}
  fns['jax f32'], infos['jax f32'] = engine_trainer(workload, x, y)
  if bf16:
    fns['jax bf16'], infos['jax bf16'] = engine_trainer(workload, x, y, dtype='bfloat16')
  net = {'cnn': 'cnn', 'lenet': 'lenet'}[workload]
  fns['torch f32'] = torch_peers.make_step(net, x, y, rate=0.5)
  if bf16:
    fns['torch bf16'] = torch_peers.make_step(net, x, y, rate=0.5, bf16=True)
  res = timing.interleave(fns, rounds=rounds, min_time=0.8)
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

  Generated images in CIFAR-10's shapes: the speed does not depend on the pixels.
  """
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


def _peak_rss_mb(pid):
  """The process's resident-set high-water mark (VmHWM), or 0 once it is gone."""
  try:
    with open(f'/proc/{pid}/status') as f:
      for line in f:
        if line.startswith('VmHWM:'):
          return int(line.split()[1]) / 1024
  except OSError:
    pass
  return 0.0


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
      peak = max(peak, _peak_rss_mb(proc.pid))
      time.sleep(0.05)
    wall = time.perf_counter() - t0
    child_cpu = children_cpu() - cpu0
    out_file.seek(0)
    out = out_file.read()
  if proc.returncode != 0:
    raise RuntimeError(f'{" ".join(cmd)} failed ({proc.returncode}):\n{out[-3000:]}')
  # Our own rusage leaves out the child's, so its CPU shows up as "others": subtract it.
  return wall, peak, out, max(0.0, load.other_cores() - child_cpu / wall)


def bench_sweep(seeds=1, train_subset=0):
  """Workload 3: the 10-point dropout sweep, 1 epoch each, end to end in fresh processes.

  JAX: `launch.py --experiment=dropout_sweep --config.seeds=1` (data loading, compile, training,
  evaluation, checkpoints, report). PyTorch: one process looping over the ten rates.
  """
  env = dict(os.environ)
  with tempfile.TemporaryDirectory() as tmp:
    jax_wall, jax_rss, _, jax_other = _child_rusage(
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
    results = json.load(open(os.path.join(tmp, 'run', 'results.json')))
  jax_acc = {}
  for r in results['records']:
    jax_acc.setdefault(r['point']['model.dropout_rate'], []).append(r['final']['test_accuracy'])
  torch_wall, _, tout, torch_other = _child_rusage(
    [sys.executable, '-m', 'bench.torch_sweep', f'--train_subset={train_subset}'], env
  )
  torch_res = json.loads(tout.strip().splitlines()[-1])
  return {
    'workload': '3. dropout sweep, 10 rates x 1 epoch, end to end',
    'unit': 'seconds',
    'peer': 'torch f32 loop',
    'jax': jax_wall,
    'torch': torch_wall,
    'ratio': torch_wall / jax_wall,
    'jax_peak_rss_mb': jax_rss,
    'other_cores': [jax_other, torch_other],
    'clean': max(jax_other, torch_other) < 0.3,
    'verdict': results['verdict']['outcome'],
    'jax_group_seconds': results['train_seconds'],  # training + per-epoch evaluation
    'torch_train_eval_seconds': torch_res['seconds'],
    'jax_test_accuracy': {str(k): float(np.mean(v)) for k, v in sorted(jax_acc.items())},
    'torch_test_accuracy': torch_res['accuracy'],
  }


def cnn_peak_rss():
  """Workload 5 (for workload 2): peak RSS of a fresh process training the CNN via the engine."""
  wall, rss, _, _ = _child_rusage(
    [sys.executable, '-m', 'bench.run', '--child_cnn_steps=200'], dict(os.environ)
  )
  return {
    'workload': '5. peak RSS, CNN train step (engine, 200 steps)',
    'unit': 'MB',
    'jax_peak_rss_mb': rss,
    'seconds': wall,
  }


def _child_cnn(steps):
  ds = mnist()
  run, _ = engine_trainer('cnn', ds.train_x, ds.train_y)
  for _ in range(steps // 10):
    run()
  print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def targets(rows):
  """Each issue-4 target with its measured value and whether it was met."""
  by = {r['workload']: r for r in rows}
  out = []

  def add(name, value, goal, kind='>='):
    met = None if value is None else (value >= goal if kind == '>=' else value < goal)
    out.append({'target': name, 'goal': f'{kind} {goal}', 'measured': value, 'met': met})

  mlp = next((r for k, r in by.items() if k.startswith('1.')), None)
  if mlp:
    add('MLP epoch vs torch f32', mlp['ratio'], TARGETS['mlp_epoch'])
  cnn = [r for k, r in by.items() if k.startswith('2.')]
  if cnn:
    add('CNN step f32 vs torch f32', cnn[0]['ratio'], TARGETS['cnn_f32'])
    vs_f32 = [r['ratio'] for r in cnn if r['peer'] == 'torch f32']
    add('CNN step, fastest setting vs torch f32', max(vs_f32), TARGETS['cnn_fastest'])
    bf = [r['ratio'] for r in cnn if r['peer'] == 'torch bf16 autocast']
    if bf:
      add('CNN step, fastest vs torch autocast bf16', bf[0], TARGETS['cnn_vs_torch_bf16'])
  sweep = next((r for k, r in by.items() if k.startswith('3.')), None)
  if sweep:
    add('10-point sweep end to end vs torch loop', sweep['ratio'], TARGETS['sweep_e2e'])
  compiles = [r['compile_seconds'] for r in rows if r.get('compile_seconds') is not None]
  if compiles:
    add('slowest compile (s)', max(compiles), TARGETS['compile_seconds'], kind='<')
  return out


def _fmt(v, digits=2):
  if v is None:
    return '-'
  if isinstance(v, bool):
    return 'yes' if v else 'NO'
  if isinstance(v, float):
    return f'{v:,.0f}' if abs(v) >= 1000 else f'{v:.{digits}f}'
  return str(v)


def markdown(result):
  m, roof = result['machine'], result['roofline']
  lines = [
    f'## {result["date"]} on {result["host"]}',
    '',
    f'{machine.summary()}',
    '',
    'Matmul roofline (2048^3, GFLOP/s, this run): '
    + ', '.join(f'{k} {v:.0f}' for k, v in roof.items() if isinstance(v, float)),
    '',
    '| workload | unit | jax-findings | PyTorch | peer | ratio | compile s | GFLOP/s '
    '| of f32 roofline | clean |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ]
  for r in result['rows']:
    if 'jax' not in r:
      continue
    lines.append(
      f'| {r["workload"]} | {r["unit"]} | {_fmt(r["jax"])} | {_fmt(r["torch"])} | '
      f'{r["peer"]} | {_fmt(r["ratio"])}x | {_fmt(r.get("compile_seconds"))} | '
      f'{_fmt(r.get("gflops"), 1)} | {_fmt(r.get("roofline_fraction"), 3)} | '
      f'{_fmt(r.get("clean", True))} |'
    )
  lines += ['', '| target | goal | measured | met |', '|---|---|---|---|']
  for t in result['targets']:
    lines.append(f'| {t["target"]} | {t["goal"]} | {_fmt(t["measured"])} | {_fmt(t["met"])} |')
  mem = [r for r in result['rows'] if 'jax_peak_rss_mb' in r]
  if mem:
    lines += [''] + [f'- peak RSS, {r["workload"]}: {r["jax_peak_rss_mb"]:.0f} MB' for r in mem]
  sw = next((r for r in result['rows'] if r['workload'].startswith('3.')), None)
  if sw:
    lines.append(
      f'- sweep, where the time goes: jax {sw["jax"]:.1f} s = '
      f'{sw["jax_group_seconds"]:.1f} s training and evaluation (10 groups) + '
      f'{sw["jax"] - sw["jax_group_seconds"]:.1f} s start-up, data, compile, report; '
      f'torch {sw["torch"]:.1f} s = {sw["torch_train_eval_seconds"]:.1f} s training '
      f'and evaluation + {sw["torch"] - sw["torch_train_eval_seconds"]:.1f} s start-up '
      'and data'
    )
    lines.append(
      f'- sweep verdict {sw["verdict"]}; test accuracy per rate (jax / torch): '
      + ', '.join(
        f'{k}: {sw["jax_test_accuracy"][k]:.4f} / '
        f'{sw["torch_test_accuracy"].get(k, float("nan")):.4f}'
        for k in sw['jax_test_accuracy']
      )
    )
  lines += [f'- m: {m["cpu_model"]}, {m["threads"]} threads, env {m["env"]}', '']
  return '\n'.join(lines)


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  p.add_argument('--rounds', type=int, default=5, help='interleaved timing rounds per workload')
  p.add_argument('--skip_sweep', action='store_true', help='leave out workload 3 (end to end)')
  p.add_argument(
    '--only', default='', help='comma-separated subset of mlp,cnn,lenet,resnet,sweep,rss'
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
  p.add_argument('--child_cnn_steps', type=int, default=0, help=argparse.SUPPRESS)
  a = p.parse_args(argv)
  if a.child_cnn_steps:
    return _child_cnn(a.child_cnn_steps)
  timing.QUIET_WAIT = a.quiet_wait
  if a.smoke:
    a.rounds, timing.QUIET_WAIT, timing.RETRY_FACTOR = 1, 0.0, 1
  only = set(filter(None, a.only.split(','))) or {'mlp', 'cnn', 'lenet', 'resnet', 'sweep', 'rss'}
  if a.skip_sweep:
    only.discard('sweep')
  try:
    import torch  # noqa: F401
  except ImportError:
    sys.exit(
      'error: PyTorch is not installed. The suite compares against it: pip install -e '
      "'.[bench]' (installs torch==2.13.0, CPU build), then rerun python -m bench."
    )
  bf16 = machine.has_native_bf16()
  print(machine.summary(), flush=True)
  roof = roofline.measure()
  print(
    'roofline GFLOP/s:', {k: round(v) for k, v in roof.items() if isinstance(v, float)}, flush=True
  )
  rows = []
  steps = [
    ('mlp', lambda: bench_mlp(roof, a.rounds)),
    ('cnn', lambda: bench_step('cnn', roof, a.rounds, bf16)),
    ('lenet', lambda: bench_step('lenet', roof, a.rounds, bf16)),
    ('resnet', lambda: bench_resnet(roof, a.rounds, a.resnet_batch)),
    ('rss', lambda: [cnn_peak_rss()]),
    ('sweep', lambda: [bench_sweep(train_subset=2000 if a.smoke else 0)]),
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
            if k in ('jax', 'torch', 'ratio', 'compile_seconds', 'jax_peak_rss_mb', 'clean')
          ),
          f'({time.perf_counter() - t0:.0f} s)',
          flush=True,
        )
  now = datetime.datetime.now()
  host = socket.gethostname()
  result = {
    'date': now.isoformat(timespec='seconds'),
    'host': host,
    'machine': machine.info(),
    'roofline': roof,
    'rows': rows,
  }
  result['targets'] = targets(rows)
  md = markdown(result)
  print()
  print(md)
  os.makedirs(a.out, exist_ok=True)
  path = os.path.join(a.out, f'{now:%Y-%m-%d}-{host}.json')
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
