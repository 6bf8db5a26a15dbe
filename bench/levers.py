"""Named variants of the engine for A/B timing (bench/STUDY.md, "Levers"), applied in a worker.

Each lever patches the engine before the worker builds its program, so a variant and the
default run the same benchmark code, each in a process of its own:

    python -m bench.levers --workload=cnn --levers=pool_split_max

prints the default's and the variant's medians from alternating rounds. A lever that wins is
then made the engine's default in its own module; the patch here is the measuring device only.
"""

from __future__ import annotations

import argparse
import json


def _pool_split_max():
  """The max-pool before the tie fix: jnp.maximum, which splits a tie's gradient."""
  import jax.numpy as jnp

  from nets import conv_ops

  conv_ops._first_max = jnp.maximum


def _plain_optimizer():
  """The optimizer without optax.inject_hyperparams: its numbers constants of the program.

  Valid only when no optimizer number is swept: init still gets each model's numbers, the
  step the config's.
  """
  import optax

  from engine import optimizers

  class _Optax:
    inject_hyperparams = staticmethod(lambda factory: factory)

    def __getattr__(self, name):
      return getattr(optax, name)

  optimizers.optax = _Optax()


def _override_conv_impl(choose):
  """Patches `conv_ops.default_impl` so a conv's impl is `choose(default's answer, cin)`."""
  from nets import conv_ops

  default = conv_ops.default_impl

  def impl(op='conv', backend=None, cin=None, taps=9):
    got = default(op, backend, cin, taps)
    return choose(got, cin) if op == 'conv' else got

  conv_ops.default_impl = impl


def _conv_patches():
  """Every conv with cin > 4 (the CNN's second layer) as im2col + one matmul ('patches')."""
  _override_conv_impl(lambda got, cin: 'patches' if got == 'lax' and cin is not None else got)


def _image_patches():
  """An image layer (cin <= 4) that 'auto' gives to lax (LeNet's 5x5) as im2col + one matmul:
  the first layer needs no input gradient, so its backward is one matmul (patches^T g)."""
  from nets import conv_ops

  small = lambda cin: cin is not None and cin <= conv_ops._CPU_SHIFTS_MAX_CIN
  _override_conv_impl(lambda got, cin: 'patches' if got == 'lax' and small(cin) else got)


def _xla_flags(*flags):
  """A lever that sets XLA flags (replacing the engine's own value) before jax is imported."""

  def apply():
    import os
    import sys

    if 'jax' in sys.modules:
      raise RuntimeError('an XLA-flag lever must be applied before jax is imported')
    names = {f.split('=')[0] for f in flags}
    kept = [f for f in os.environ.get('XLA_FLAGS', '').split() if f.split('=')[0] not in names]
    os.environ['XLA_FLAGS'] = ' '.join(kept + [f for f in flags if f])

  apply.__doc__ = f'XLA_FLAGS {" ".join(flags) or "(none)"}'
  return apply


def _no_engine_flags():
  """XLA's own defaults: the engine's ynn flag removed (YNN for dots, convs and reductions)."""
  import os

  os.environ['XLA_FLAGS'] = ' '.join(
    f for f in os.environ.get('XLA_FLAGS', '').split() if 'ynn_fusion_type' not in f
  )


def _mlp_ynn():
  """The MLP's programs with YNNPACK's dots, as every program had them before."""
  from engine import cpu_setup

  cpu_setup.model_compiler_options = lambda model: {}


def _one_core():
  """This worker pinned to one core before jax is imported: XLA:CPU sizes its thread pools from
  the process's affinity, so every op runs on one thread (no intra-op split)."""
  import os
  import sys

  if 'jax' in sys.modules:
    raise RuntimeError('the one_core lever must be applied before jax is imported')
  os.sched_setaffinity(0, [min(os.sched_getaffinity(0))])


def _conv_lax():
  """Every conv as lax.conv_general_dilated (no 'shifts' image layer), bias grads still GEMVs."""
  _override_conv_impl(lambda got, cin: 'lax' if got == 'shifts' else got)


def _pool_stack():
  """The pool's one-pass backward as four quarter-size selects stacked (before 2026-12-03)."""
  from nets import conv_ops

  conv_ops.POOL_BACKWARD = 'stack'


def _materialize_reciprocal():
  """materialize as x / broadcast(runtime 1), which XLA turns into x * (1/one): the default."""


def _materialize_full():
  """materialize as x / (1 + 0 * x): a full-shape divide, which XLA never duplicates."""
  import jax

  from nets import conv_ops

  @jax.custom_vjp
  def full(x):
    return x / (1 + 0 * x)

  full.defvjp(lambda x: (full(x), None), lambda _, g: (g,))
  conv_ops.materialize = lambda x, like: full(x)


def _pool_pads():
  """The max-pool whose backward is jax's transpose of the selects: four full-size pads."""
  from nets import conv_ops

  conv_ops.POOL_BACKWARD = 'transpose'


def _unrolled_threefry():
  """threefry2x32 lowered on CPU as straight-line code (GPU's lowering), not a 5-trip loop."""
  from jax._src.interpreters import mlir
  from jax._src.random import threefry2x32 as tf  # jax internals: a measuring device only

  mlir.register_lowering(tf.threefry2x32_p, tf._threefry2x32_lowering_rule, platform='cpu')


def _mask_barrier():
  """Dropout's keep mask materialised once (an optimization barrier), not fused into its users."""
  import jax

  from nets import dropout

  draw = dropout.keep_mask
  dropout.keep_mask = lambda key, keep, shape: jax.lax.optimization_barrier(draw(key, keep, shape))


def _rbg_dropout():
  """Dropout masks from XLA's RngBitGenerator (an 'rbg' key made from the threefry key's bits):
  other masks than threefry's, so other numbers: a measuring device only."""
  import jax

  from nets import dropout

  def keep_mask(key, keep, shape):
    rbg = jax.random.wrap_key_data(jax.random.bits(key, (4,), 'uint32'), impl='rbg')
    return jax.random.bernoulli(rbg, keep, shape)

  dropout.keep_mask = keep_mask


LEVERS = {
  'pool_split_max': _pool_split_max,
  'unrolled_threefry': _unrolled_threefry,
  'mask_barrier': _mask_barrier,
  'rbg_dropout': _rbg_dropout,
  'plain_optimizer': _plain_optimizer,
  'conv_patches': _conv_patches,
  'conv_lax': _conv_lax,
  'image_patches': _image_patches,
  'materialize_reciprocal': _materialize_reciprocal,
  'materialize_full': _materialize_full,
  'pool_pads': _pool_pads,
  'pool_stack': _pool_stack,
  'xla_defaults': _no_engine_flags,
  'mlp_ynn': _mlp_ynn,
  'one_core': _one_core,
  'eigen_one_thread': _xla_flags('--xla_cpu_multi_thread_eigen=false'),
  'legacy_runtime': _xla_flags('--xla_cpu_use_thunk_runtime=false'),
  'ynn_off': _xla_flags('--xla_cpu_experimental_ynn_fusion_type='),
  'ynn_dot_conv': _xla_flags(
    '--xla_cpu_experimental_ynn_fusion_type=individual_dot,individual_convolution'
  ),
  'ynn_dot_reduce': _xla_flags('--xla_cpu_experimental_ynn_fusion_type=individual_dot,reduce'),
  'onednn_custom_call': _xla_flags('--xla_cpu_experimental_onednn_custom_call=true'),
  'onednn_dot': _xla_flags(
    '--xla_cpu_use_onednn=true', '--xla_cpu_experimental_onednn_fusion_type=dot'
  ),
  'max_isa_avx2': _xla_flags('--xla_cpu_max_isa=AVX2'),
  'vector_width_512': _xla_flags('--xla_cpu_prefer_vector_width=512'),
  'fast_math': _xla_flags('--xla_cpu_enable_fast_math=true'),
  'opt_level_2': _xla_flags('--xla_backend_optimization_level=2'),
  'opt_level_1': _xla_flags('--xla_backend_optimization_level=1'),
  'xnn_dot': _xla_flags('--xla_cpu_use_xnnpack=true', '--xla_cpu_experimental_xnn_fusion_type=dot'),
}


def mlp_epoch(spec):
  """One MLP epoch (60k, batch 32, Adam) as a scan of the engine's train step, two ways.

  spec['batches']: 'gather' takes each batch from the epoch's permutation per step (what
  engine/loop.py does); 'contiguous' permutes the images once per epoch and slices batch i.
  Everything else is the same program, so the difference is the lever's.
  """
  import jax
  import jax.numpy as jnp
  import ml_collections

  import nets
  from bench import run, worker
  from engine import optimizers, state, steps

  ds = worker.mnist(validation_size=0)
  x, y = jax.device_put(ds.train_x), jax.device_put(ds.train_y)
  w = run.WORKLOADS['mlp']
  model = nets.build(**w['model'])
  tx = optimizers.make(ml_collections.ConfigDict(w['optimizer']))
  train_step = steps.make_train_step(model, tx, dropout=False)
  bs, n = w['batch_size'], len(ds.train_y)
  spe = n // bs
  st = state.create(model, tx, jax.random.PRNGKey(0), x[:1], 0.0)

  @jax.jit
  def epoch(st, key):
    perm = jax.random.permutation(key, n)[: spe * bs].astype(jnp.int32)
    if spec['batches'] == 'contiguous':
      xs, ys = x[perm].reshape(spe, bs, *x.shape[1:]), y[perm].reshape(spe, bs)

      def body(st, i):
        return train_step(st, (xs[i], ys[i]), key)[0], None
    else:

      def body(st, i):
        idx = jax.lax.dynamic_slice_in_dim(perm, i * bs, bs)
        batch = (x.at[idx].get(mode='promise_in_bounds'), y.at[idx].get(mode='promise_in_bounds'))
        return train_step(st, batch, key)[0], None

    return jax.lax.scan(body, st, jnp.arange(spe))[0]

  carry = {'st': st, 'k': 0}

  def run_epoch():
    carry['st'] = epoch(carry['st'], jax.random.PRNGKey(carry['k']))
    carry['k'] += 1
    jax.block_until_ready(carry['st'])
    return spe * bs

  return run_epoch, {}


def cnn_eval(spec):
  """The engine's per-epoch evaluation of one dropout-sweep CNN (train 10k, val 5k, test 10k)
  with `spec['eval_batch_size']` images per program call."""
  import jax

  from bench import run, worker
  from engine import loop

  ds = worker.mnist()
  _, _, start = run.engine_trainer('cnn', ds.train_x, ds.train_y, with_start=True)
  data = loop.put_on_device(ds, 10000, spec['eval_batch_size'])['eval']
  count = sum(int(m.sum()) for _, _, m in data.values())

  def evaluate():
    jax.block_until_ready(loop._evaluate(start.programs.eval, start.states, data, start.layout))
    return count

  return evaluate, {}


WORKLOADS = {'mlp_epoch': mlp_epoch, 'cnn_eval': cnn_eval}


def apply(names=()):
  for name in names:
    if name not in LEVERS:
      raise ValueError(f'unknown lever {name!r}; known: {", ".join(LEVERS)}')
    LEVERS[name]()


def main(argv=None):
  from bench import run, timing

  p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  p.add_argument('--workload', default='cnn', help='mlp, cnn, lenet, or one of WORKLOADS')
  p.add_argument('--levers', default='', help='comma-separated names from LEVERS')
  p.add_argument(
    '--variants',
    default='',
    help='instead of levers: JSON {name: spec fields} for the workload, e.g. two batch sizes',
  )
  p.add_argument('--rounds', type=int, default=5)
  p.add_argument('--min_time', type=float, default=0.8)
  p.add_argument('--quiet_wait', type=float, default=2.0)
  a = p.parse_args(argv)
  timing.QUIET_WAIT = a.quiet_wait
  levers = [x for x in a.levers.split(',') if x]
  base = {'framework': 'jax', 'workload': a.workload}
  if a.variants:
    specs = {k: dict(base, **v) for k, v in json.loads(a.variants).items()}
  else:
    specs = {'default': base, '+'.join(levers): dict(base, levers=levers)}
  res, infos = run.pair(specs, a.rounds, a.min_time)
  out = {
    k: {
      'median': r['median'],
      'spread': [r['min'], r['max']],
      'samples': r['samples'],
      'clean': r['clean'],
      'other_cores': r['other_cores'],
      'loadavg': r['loadavg'],
      'peak_rss_mb': r['peak_rss_mb'],
      'compile_seconds': infos[k].get('compile_seconds'),
    }
    for k, r in res.items()
  }
  from bench import machine

  summary = {'machine': machine.summary(), 'workload': a.workload, 'rounds': a.rounds}
  print(json.dumps({**summary, 'results': out}, indent=1))


if __name__ == '__main__':
  main()
