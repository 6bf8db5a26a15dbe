"""One process of the CPU study: a group of JAX variants vs the PyTorch peer.

The environment (XLA_FLAGS, GLIBC_TUNABLES, CPU pinning) is set by the
caller (bench/study_run.py) because it must precede `import jax`.  Inside,
all variants and the PyTorch peer are timed interleaved (bench.timing), so
each ratio comes from the same minutes of machine time.

Run one group:  python -m bench.study_cnn --group impls [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

GROUPS = {}


def group(fn):
  GROUPS[fn.__name__] = fn
  return fn


def V(name, conv='auto', pool='reshape', driver='loop', k=1, unroll=True,
      dtype=None, net='cnn', sweep=None):
  return dict(name=name, conv=conv, pool=pool, driver=driver, k=k,
              unroll=unroll, dtype=dtype, net=net, sweep=sweep)


@group
def impls():
  """conv x pool impls, Python loop of jitted steps."""
  return [V('lax conv + lax pool (flax default)', 'lax', 'lax'),
          V('lax conv + reshape pool', 'lax', 'reshape'),
          V('patches conv + reshape pool', 'patches', 'reshape'),
          V('auto conv (shifts L1, lax L2) + reshape pool', 'auto', 'reshape')]


@group
def bf16():
  """float32 vs bfloat16 compute (f32 params), best impls."""
  return [V('auto/reshape f32', 'auto'), V('auto/reshape bf16', 'auto', dtype='bfloat16'),
          V('lax/reshape bf16', 'lax', dtype='bfloat16'),
          V('patches/reshape bf16', 'patches', dtype='bfloat16')]


@group
def drivers():
  """Python loop vs lax.scan chunks of K steps per jit call."""
  return [V('loop (1 step/call)'),
          V('scan K=1', driver='scan', k=1),
          V('scan K=8 unrolled', driver='scan', k=8),
          V('scan K=32 unrolled', driver='scan', k=32),
          V('scan K=32 rolled', driver='scan', k=32, unroll=False),
          V('scan K=32 unroll=8', driver='scan', k=32, unroll=8),
          V('lax conv: scan K=32 rolled', 'lax', driver='scan', k=32, unroll=False),
          V('patches conv: scan K=32 rolled', 'patches', driver='scan', k=32, unroll=False)]


@group
def best():
  """The candidate defaults, for env comparisons (flags, hugetlb, threefry)."""
  return [V('auto/reshape loop'), V('auto/reshape scan K=8', driver='scan', k=8),
          V('auto/reshape bf16 scan K=8', driver='scan', k=8, dtype='bfloat16'),
          V('lax/lax loop (flax default)', 'lax', 'lax')]


@group
def sweep():
  """10 dropout rates: per-model throughput, vmap vs folded vs one model."""
  return [V('1 model, scan K=8', driver='scan', k=8),
          V('vmap 10 models, scan K=8', driver='scan', k=8, sweep='vmap'),
          V('vmap 10 models (patches), scan K=8', 'patches', driver='scan', k=8,
            sweep='vmap'),
          V('folded SweepCNN 10 models, scan K=8', driver='scan', k=8, sweep='fold')]


@group
def lenet():
  """Caffe LeNet, batch 64, SGD momentum."""
  return [V('lax/lax loop', 'lax', 'lax', net='lenet'),
          V('lax/reshape loop', 'lax', net='lenet'),
          V('hybrid/reshape loop', 'hybrid', net='lenet'),
          V('auto/reshape loop (shifts L1, hybrid L2)', net='lenet'),
          V('auto/reshape scan K=8', driver='scan', k=8, net='lenet'),
          V('auto/reshape bf16 scan K=8', driver='scan', k=8, net='lenet',
            dtype='bfloat16')]


@group
def mlp():
  """MLP 784-100-10, batch 32, Adam: steps/s as samples/s."""
  return [V('loop (1 step/call)', net='mlp'),
          V('scan K=64 unrolled', driver='scan', k=64, net='mlp'),
          V('scan K=625 rolled', driver='scan', k=625, unroll=False, net='mlp'),
          V('scan epoch (1875) rolled', driver='scan', k=1875, unroll=False, net='mlp'),
          V('scan epoch (1875) unroll=8', driver='scan', k=1875, unroll=8, net='mlp')]


def build(v, data, jt, jnp):
  """A warm Runner for variant v (compile time recorded)."""
  net, batch = v['net'], jt.BATCH[v['net']]
  dtype = jnp.bfloat16 if v['dtype'] == 'bfloat16' else None
  xb, yb = data[batch]
  tx = jt.optimizer(net)
  shape = (batch, 28, 28, 1)
  if v['sweep'] == 'fold':
    m = jt.SweepCNN(10, pool_impl=v['pool'], dtype=dtype)
    st = jt.folded_state(m, tx, shape)
    return jt.sweep_runner(jt.folded_sweep_step(m, tx), st, xb, yb,
                           [0.1 * i for i in range(10)], k=v['k'],
                           unroll=v['unroll'], folded=True).warm()
  m = jt.make_model(net, v['conv'], v['pool'], dtype)
  step = jt.make_step(m, tx)
  if v['sweep'] == 'vmap':
    st = jt.sweep_state(m, tx, shape, 10)
    return jt.sweep_runner(step, st, xb, yb, [0.1 * i for i in range(10)],
                           k=v['k'], unroll=v['unroll']).warm()
  st = jt.init_state(m, tx, shape)
  rate = 0.5 if net == 'cnn' else 0.0
  if v['driver'] == 'loop':
    return jt.loop_runner(step, st, xb, yb, rate, calls=8 if net != 'mlp' else 64).warm()
  calls = max(1, (8 if net != 'mlp' else 256) // v['k'])
  return jt.scan_runner(step, st, xb, yb, rate, k=v['k'], unroll=v['unroll'],
                        calls=calls).warm()


def run_group(name, rounds=3, min_time=1.0, torch_variants=True,
              unrolled_threefry=False):
  from bench import machine, mnist, timing, torch_peers
  if unrolled_threefry:
    from bench import cpu_setup
    cpu_setup.use_unrolled_threefry()
  import jax
  import jax.numpy as jnp
  from bench import jax_train as jt
  variants = GROUPS[name]()
  nets = {v['net'] for v in variants}
  x, y, _, _ = mnist.load(n_train=None if nets == {'mlp'} else 55000)
  data = {b: jt.batched(x, y, b) for b in {jt.BATCH[n] for n in nets}}
  fns, compile_s = {}, {}
  for v in variants:
    t0 = time.perf_counter()
    try:
      r = build(v, data, jt, jnp)
    except Exception as e:  # keep the group going; report the failure
      print(f'  {v["name"]}: FAILED {type(e).__name__}: {e}', file=sys.stderr)
      continue
    fns[v['name']] = r.run
    compile_s[v['name']] = round(r.compile_s, 2)
    print(f'  built {v["name"]} (first call {r.compile_s:.1f}s, '
          f'total {time.perf_counter() - t0:.1f}s)', file=sys.stderr, flush=True)
  peers = {}
  for net in sorted(nets):
    peers[f'torch {net}'] = torch_peers.make_step(net, x, y, steps_per_call=8 if net != 'mlp' else 64)
    if torch_variants and machine.has_native_bf16() and net != 'mlp':
      peers[f'torch {net} bf16 autocast'] = torch_peers.make_step(
          net, x, y, bf16=True, steps_per_call=8)
  res = timing.interleave({**fns, **peers}, rounds=rounds, min_time=min_time)
  out = {'group': name, 'doc': GROUPS[name].__doc__, 'machine': machine.info(),
         'pinned_cpus': sorted(os.sched_getaffinity(0)),
         'unrolled_threefry': unrolled_threefry, 'results': {}}
  for k, r in res.items():
    net = next((v['net'] for v in variants if v['name'] == k), k.split()[1])
    base = res[f'torch {net}']['median']
    out['results'][k] = {
        'samples_per_s': round(r['median'], 1), 'ratio_vs_torch_f32': round(r['median'] / base, 3),
        'min': round(r['min'], 1), 'max': round(r['max'], 1),
        'compile_s': compile_s.get(k), 'other_cores': round(r['other_cores'], 2),
        'clean': r['clean']}
  return out


def main():
  p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  p.add_argument('--group', required=True, choices=sorted(GROUPS))
  p.add_argument('--rounds', type=int, default=3)
  p.add_argument('--min-time', type=float, default=1.0)
  p.add_argument('--unrolled-threefry', action='store_true')
  p.add_argument('--label', default='')
  p.add_argument('--out')
  a = p.parse_args()
  out = run_group(a.group, a.rounds, a.min_time,
                  unrolled_threefry=a.unrolled_threefry)
  out['label'] = a.label
  line = json.dumps(out)
  if a.out:
    with open(a.out, 'a') as f:
      f.write(line + '\n')
  for k, r in out['results'].items():
    print(f"{k:48s} {r['samples_per_s']:9.0f}/s  {r['ratio_vs_torch_f32']:5.2f}x  "
          f"compile {r['compile_s']}  other {r['other_cores']}")


if __name__ == '__main__':
  main()
