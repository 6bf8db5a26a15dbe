"""JAX/Flax side of the benchmarks: the course's nets and ways to drive them.

Models take their conv/pool impls (nets.conv_ops) and compute dtype as
fields, so one definition covers every variant in bench/STUDY.md.  Drivers:

* `loop_runner`: a Python loop of jitted single steps (the usual Flax way);
* `scan_runner`: one jitted call runs K steps as `lax.scan` (K=1..epoch,
  unrolled or not), amortising dispatch and letting XLA overlap steps;
* `sweep_runner`: 10 models with different dropout rates trained together,
  by `jax.vmap` or by the hand-folded `SweepCNN`.

Batches are taken inside the jitted code from the whole (n_batches, B, ...)
epoch array kept on device, so no per-step host work is timed.
"""

from __future__ import annotations

import functools
import time
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

from nets import conv_ops


def dropout(x, rate, key):
  """Inverted dropout with a traced rate (rate 0 keeps everything).

  The mask is built as a float scale (0 or 1/keep) and materialised once:
  left to XLA, the random-bit generation is fused into (and recomputed in)
  both the forward select and the backward one, and inside a fusion that
  also flattens the tensor it loses vectorisation (~10x slower).
  """
  keep = 1.0 - rate
  mask = jax.random.bernoulli(key, keep, x.shape)
  scale = jnp.where(mask, 1.0 / keep, 0.0).astype(x.dtype)
  if DROPOUT_MATERIALIZE:
    scale = conv_ops.materialize(scale, rate)
  return x * scale


DROPOUT_MATERIALIZE = True


class DropoutCNN(nn.Module):
  """16c3-pool-32c3-pool-drop-128-drop-10 (the dropout-sweep CNN)."""
  conv_impl: str = 'lax'
  pool_impl: str = 'lax'
  dtype: Any = None

  @nn.compact
  def __call__(self, x, rate=0.0, key=None):
    conv = functools.partial(conv_ops.Conv, impl=self.conv_impl, dtype=self.dtype)
    if self.dtype is not None:
      x = x.astype(self.dtype)
    x = conv_ops.max_pool_2x2(nn.relu(conv(16, (3, 3))(x)), self.pool_impl)
    x = conv_ops.max_pool_2x2(nn.relu(conv(32, (3, 3))(x)), self.pool_impl)
    k1 = k2 = None
    if key is not None:
      k1, k2 = jax.random.split(key)
      x = dropout(x, rate, k1)
    x = x.reshape(x.shape[0], -1)
    x = nn.relu(nn.Dense(128, dtype=self.dtype)(x))
    if key is not None:
      x = dropout(x, rate, k2)
    return nn.Dense(10, dtype=self.dtype)(x)


class LeNet(nn.Module):
  """Caffe LeNet: 20c5-pool-50c5-pool-500-10, VALID convs, no conv ReLU."""
  conv_impl: str = 'lax'
  pool_impl: str = 'lax'
  dtype: Any = None

  @nn.compact
  def __call__(self, x, rate=0.0, key=None):
    conv = functools.partial(conv_ops.Conv, padding='VALID',
                             impl=self.conv_impl, dtype=self.dtype)
    if self.dtype is not None:
      x = x.astype(self.dtype)
    x = conv_ops.max_pool_2x2(conv(20, (5, 5))(x), self.pool_impl)
    x = conv_ops.max_pool_2x2(conv(50, (5, 5))(x), self.pool_impl)
    x = x.reshape(x.shape[0], -1)
    x = nn.relu(nn.Dense(500, dtype=self.dtype)(x))
    return nn.Dense(10, dtype=self.dtype)(x)


class MLP(nn.Module):
  """784-100-10 ReLU."""
  dtype: Any = None

  @nn.compact
  def __call__(self, x, rate=0.0, key=None):
    x = x.reshape(x.shape[0], -1)
    x = nn.relu(nn.Dense(100, dtype=self.dtype)(x))
    return nn.Dense(10, dtype=self.dtype)(x)


NETS = {'cnn': DropoutCNN, 'lenet': LeNet, 'mlp': MLP}
BATCH = {'cnn': 128, 'lenet': 64, 'mlp': 32}


def optimizer(net: str):
  """The course's optimizers: Adam 1e-3, or SGD 0.01 momentum 0.9 (LeNet)."""
  return optax.sgd(0.01, momentum=0.9) if net == 'lenet' else optax.adam(1e-3)


def make_model(net: str, conv_impl='lax', pool_impl='lax', dtype=None):
  if net == 'mlp':
    return MLP(dtype=dtype)
  return NETS[net](conv_impl=conv_impl, pool_impl=pool_impl, dtype=dtype)


def init_state(model, tx, batch_shape, seed=0):
  """(params, opt_state).  Jitted: eager init runs op by op and is slower."""
  def init(key):
    params = model.init(key, jnp.zeros(batch_shape, jnp.float32))
    return params, tx.init(params)
  return jax.jit(init)(jax.random.PRNGKey(seed))


def make_step(model, tx):
  """Pure train step: (state, xb, yb, rate, key) -> (state, loss)."""
  def loss_fn(params, xb, yb, rate, key):
    logits = model.apply(params, xb, rate, key).astype(jnp.float32)
    return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

  def step(state, xb, yb, rate, key):
    params, opt_state = state
    loss, grads = jax.value_and_grad(loss_fn)(params, xb, yb, rate, key)
    updates, opt_state = tx.update(grads, opt_state, params)
    return (optax.apply_updates(params, updates), opt_state), loss
  return step


def batched(x: np.ndarray, y: np.ndarray, batch: int):
  """Device arrays (n_batches, batch, ...) of the data, tail dropped."""
  nb = len(x) // batch
  return (jnp.asarray(x[:nb * batch].reshape(nb, batch, *x.shape[1:])),
          jnp.asarray(y[:nb * batch].reshape(nb, batch)))


class Runner:
  """Holds the live train state; `run()` advances it, returns #samples."""

  def __init__(self, fn, state, xb, yb, rate, steps_per_call, batch, calls=1,
               key=None):
    self.fn, self.state, self.xb, self.yb = fn, state, xb, yb
    self.rate = jnp.asarray(rate, jnp.float32)
    self.key = jax.random.PRNGKey(1) if key is None else key
    self.k, self.calls, self.nb = steps_per_call, calls, xb.shape[0]
    self.batch, self.i, self.compile_s = batch, 0, None

  def run(self) -> int:
    for _ in range(self.calls):
      if self.i + self.k > self.nb:
        self.i = 0
      self.state, loss = self.fn(self.state, self.xb, self.yb,
                                 jnp.int32(self.i), self.rate, self.key)
      self.i += self.k
    loss.block_until_ready()
    return self.calls * self.k * self.batch * _models(self.rate)

  def warm(self) -> 'Runner':
    """First call (trace + compile + one run); records compile_s."""
    t0 = time.perf_counter()
    calls, self.calls = self.calls, 1
    self.run()
    self.calls, self.compile_s = calls, time.perf_counter() - t0
    return self


def _models(rate) -> int:
  return int(np.prod(jnp.shape(rate))) or 1


def loop_runner(step, state, xb, yb, rate=0.5, calls=8) -> Runner:
  """Python loop of jitted single steps (batch i sliced inside the jit)."""
  @functools.partial(jax.jit, donate_argnums=0)
  def one(state, xb, yb, i, rate, key):
    x = lax.dynamic_index_in_dim(xb, i, keepdims=False)
    y = lax.dynamic_index_in_dim(yb, i, keepdims=False)
    return step(state, x, y, rate, jax.random.fold_in(key, i))
  return Runner(one, state, xb, yb, rate, 1, xb.shape[1], calls)


def scan_runner(step, state, xb, yb, rate=0.5, k=8, unroll=True,
                calls=1) -> Runner:
  """One jitted call = `lax.scan` over k consecutive steps.

  unroll: True (fully), False (a while loop), or an int unroll factor.
  """
  unroll_arg = k if unroll is True else (1 if unroll is False else unroll)

  @functools.partial(jax.jit, donate_argnums=0)
  def chunk(state, xb, yb, i0, rate, key):
    xs = lax.dynamic_slice_in_dim(xb, i0, k)
    ys = lax.dynamic_slice_in_dim(yb, i0, k)

    def body(state, inp):
      x, y, i = inp
      state, loss = step(state, x, y, rate, jax.random.fold_in(key, i))
      return state, loss
    state, losses = lax.scan(body, state, (xs, ys, i0 + jnp.arange(k)),
                             unroll=unroll_arg)
    return state, losses[-1]
  return Runner(chunk, state, xb, yb, rate, k, xb.shape[1], calls)


# --- the 10-model dropout sweep ------------------------------------------


def vmap_step(step):
  """10 models, one program: state/rate/key batched, data shared."""
  return jax.vmap(step, in_axes=(0, None, None, 0, 0))


def sweep_state(model, tx, batch_shape, n_models, seed=0):
  keys = jax.random.split(jax.random.PRNGKey(seed), n_models)

  def init(key):
    params = model.init(key, jnp.zeros(batch_shape, jnp.float32))
    return params, tx.init(params)
  return jax.jit(jax.vmap(init))(keys)


def sweep_runner(step, state, xb, yb, rates, k=8, unroll=True, calls=1,
                 folded=False) -> Runner:
  """k steps of all models per call (scan), per-model rates and keys.

  folded: `step` already handles the model axis itself (SweepCNN); else
  it is vmapped.
  """
  mstep = step if folded else vmap_step(step)
  unroll_arg = k if unroll is True else (1 if unroll is False else unroll)
  n = len(rates)

  @functools.partial(jax.jit, donate_argnums=0)
  def chunk(state, xb, yb, i0, rates, key):
    xs = lax.dynamic_slice_in_dim(xb, i0, k)
    ys = lax.dynamic_slice_in_dim(yb, i0, k)

    def body(state, inp):
      x, y, i = inp
      keys = jax.random.split(jax.random.fold_in(key, i), n)
      return mstep(state, x, y, rates, keys)
    state, losses = lax.scan(body, state, (xs, ys, i0 + jnp.arange(k)),
                             unroll=unroll_arg)
    return state, losses[-1]
  return Runner(chunk, state, xb, yb, jnp.asarray(rates, jnp.float32), k,
                xb.shape[1], calls)


class SweepCNN(nn.Module):
  """M dropout CNNs in one module, the model axis folded into the matmuls.

  Layer 1 sees the same images in every model, so it is ONE matmul of the
  shared patches against all M kernels side by side (N = 16*M).  Later
  layers are batched matmuls with the model axis as the dot batch dim.
  Params carry a leading model axis.  (Study variant; not a project model.)
  """
  n_models: int = 10
  pool_impl: str = 'reshape'
  dtype: Any = None

  @nn.compact
  def __call__(self, x, rates, keys):
    m, dt = self.n_models, self.dtype or jnp.float32
    p = lambda name, shape, fan_in: self.param(
        name, nn.initializers.variance_scaling(1.0, 'fan_in', 'truncated_normal',
                                               in_axis=-2, out_axis=-1),
        (m,) + shape) if fan_in else self.param(name, nn.initializers.zeros, (m,) + shape)
    n = x.shape[0]
    k1, b1 = p('k1', (9, 16), 1), p('b1', (16,), 0)
    k2, b2 = p('k2', (9 * 16, 32), 1), p('b2', (32,), 0)
    w3, b3 = p('w3', (7 * 7 * 32, 128), 1), p('b3', (128,), 0)
    w4, b4 = p('w4', (128, 10), 1), p('b4', (10,), 0)
    c = lambda a: a.astype(dt)
    pt = conv_ops.extract_patches(c(x), 3, 3)                      # n,28,28,9
    h = jnp.einsum('nhwk,kmo->nhwmo', pt, c(k1.transpose(1, 0, 2)),
                   preferred_element_type=jnp.float32) + b1      # n,28,28,m,16
    h = nn.relu(h).astype(dt).transpose(3, 0, 1, 2, 4).reshape(m * n, 28, 28, 16)
    h = conv_ops.max_pool_2x2(h, self.pool_impl)                   # m*n,14,14,16
    pt = conv_ops.extract_patches(h, 3, 3).reshape(m, n * 14 * 14, 144)
    h = jnp.einsum('mpk,mko->mpo', pt, c(k2),
                   preferred_element_type=jnp.float32) + b2[:, None]
    h = nn.relu(h).astype(dt).reshape(m * n, 14, 14, 32)
    h = conv_ops.max_pool_2x2(h, self.pool_impl).reshape(m, n, 7 * 7 * 32)
    drop = jax.vmap(dropout)
    h = drop(h, rates, jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys))
    h = jnp.einsum('mnk,mko->mno', h, c(w3), preferred_element_type=jnp.float32)
    h = nn.relu(h + b3[:, None]).astype(dt)
    h = drop(h, rates, jax.vmap(lambda k: jax.random.fold_in(k, 2))(keys))
    return jnp.einsum('mnk,mko->mno', h, c(w4),
                      preferred_element_type=jnp.float32) + b4[:, None]


def folded_sweep_step(model: SweepCNN, tx):
  """Train step for SweepCNN: the loss is the SUM over models of each
  model's mean loss, so every model gets exactly its own gradient."""
  def loss_fn(params, xb, yb, rates, keys):
    logits = model.apply(params, xb, rates, keys)            # m,n,10
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, yb[None])
    return ce.mean(axis=1).sum(), ce.mean(axis=1)

  def step(state, xb, yb, rates, keys):
    params, opt_state = state
    (_, losses), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        params, xb, yb, rates, keys)
    updates, opt_state = tx.update(grads, opt_state, params)
    return (optax.apply_updates(params, updates), opt_state), losses
  return step


def folded_state(model: SweepCNN, tx, batch_shape, seed=0):
  def init(key):
    n = model.n_models
    params = model.init(key, jnp.zeros(batch_shape, jnp.float32),
                        jnp.zeros((n,)), jax.random.split(key, n))
    return params, tx.init(params)
  return jax.jit(init)(jax.random.PRNGKey(seed))


def evaluate(model, params, x: np.ndarray, y: np.ndarray, batch=1000) -> float:
  """Test accuracy (dropout off), jitted over fixed-size batches."""
  f = jax.jit(lambda p, xb: jnp.argmax(model.apply(p, xb), -1))
  correct = 0
  for i in range(0, len(x) - batch + 1, batch):
    correct += int((np.asarray(f(params, x[i:i + batch])) == y[i:i + batch]).sum())
  return correct / (len(x) // batch * batch)


def sweep_e2e(x_tr, y_tr, x_te, y_te, rates, conv_impl='auto',
              pool_impl='reshape', mode='sequential', k=8, dtype=None,
              batch=128, seed=0) -> dict:
  """The dropout sweep end to end: each rate trained 1 epoch, then
  evaluated on the test set.  'sequential' compiles init, step and eval
  ONCE and reuses them for every rate (the rate is a traced scalar; one
  step per jit call, the recommended CNN driver); 'vmap' trains all rates
  at once (k-step scans).  Returns total seconds (compile included) and
  accuracies.
  """
  t0 = time.perf_counter()
  model = make_model('cnn', conv_impl, pool_impl, dtype)
  tx = optimizer('cnn')
  xb, yb = batched(x_tr, y_tr, batch)
  step = make_step(model, tx)
  acc = {}
  predict = jax.jit(lambda p, xb: jnp.argmax(model.apply(p, xb), -1))

  def test_acc(params, bs=1000):
    hits = sum(int((np.asarray(predict(params, x_te[i:i + bs])) == y_te[i:i + bs]).sum())
               for i in range(0, len(x_te) - bs + 1, bs))
    return hits / (len(x_te) // bs * bs)

  if mode == 'sequential':
    init = jax.jit(lambda key: (lambda p: (p, tx.init(p)))(
        model.init(key, jnp.zeros((batch, 28, 28, 1), jnp.float32))))
    run = loop_runner(step, init(jax.random.PRNGKey(seed)), xb, yb,
                      rate=rates[0], calls=xb.shape[0])
    for r in rates:
      run.state, run.rate, run.i = init(jax.random.PRNGKey(seed)), jnp.float32(r), 0
      run.run()
      acc[r] = test_acc(run.state[0])
    nb = xb.shape[0]
  else:
    nb = xb.shape[0] // k * k
    st = sweep_state(model, tx, (batch, 28, 28, 1), len(rates), seed)
    run = sweep_runner(step, st, xb, yb, rates, k=k, calls=nb // k).warm()
    run.i, run.calls = 0, nb // k - 1
    run.run()
    for m, r in enumerate(rates):
      acc[r] = test_acc(jax.tree.map(lambda a: a[m], run.state[0]))
  return {'seconds': time.perf_counter() - t0, 'accuracy': acc,
          'steps_per_model': nb}
