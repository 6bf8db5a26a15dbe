"""Where an MLP step's time goes on CPU: the engine's step with parts removed, one epoch each.

    python -m bench.study_mlp_step

784-100-10, batch 32, a whole epoch as one lax.scan (as the engine runs it), one model. Each
variant drops one part: Adam -> SGD (the optimizer), the per-step gather (a fixed batch), the
backward pass (forward only), or the gather's in-bounds promise. Interleaved medians.
"""
from engine import cpu_setup

cpu_setup.configure()

import functools  # noqa: E402

import jax
import jax.numpy as jnp
import optax

import nets
from engine import optimizers, steps as steps_lib, state as state_lib
from bench import run, timing  # noqa: E402


def main():
  ds = run.mnist(validation_size=0)
  images, labels = jax.device_put(ds.train_x), jax.device_put(ds.train_y)
  n, B = 60000, 32
  model = nets.build('mlp', hidden=(100,))
  key = jax.random.PRNGKey(0)
  perm = jax.random.permutation(key, n).astype(jnp.int32)
  def make(opt, gather=True, grad=True, checked_gather=False):
    tx = optimizers.make(opt)
    train_step = steps_lib.make_train_step(model, tx, dropout=False)
    def body(s, i):
      idx = jax.lax.dynamic_slice_in_dim(perm, i * B, B) if gather else jnp.arange(B)
      if checked_gather:
        x, y = images[idx], labels[idx]
      else:
        x, y = (images.at[idx].get(mode='promise_in_bounds'),
                labels.at[idx].get(mode='promise_in_bounds'))
      if grad:
        s, m = train_step(s, (x, y), key)
        return s, m['loss_sum']
      logits = model.apply({'params': s.params}, x, train=True)
      return s, optax.softmax_cross_entropy_with_integer_labels(logits, y).sum()
    @functools.partial(jax.jit, donate_argnums=(0,))
    def epoch(s):
      s, l = jax.lax.scan(body, s, jnp.arange(n // B))
      return s, l.sum()
    c = {'s': state_lib.create(model, tx, key, images[:1], 0.0)}
    def go():
      c['s'], l = epoch(c['s']); l.block_until_ready(); return n
    go(); return go
  adam, sgd = {'name': 'adam', 'learning_rate': 1e-3}, {'name': 'sgd', 'learning_rate': 1e-3}
  fns = {'adam step (engine)': make(adam), 'adam, checked gather': make(adam, checked_gather=True),
         'sgd step': make(sgd), 'adam, no gather': make(adam, gather=False),
         'forward only': make(adam, grad=False)}
  res = timing.interleave(fns, rounds=3, min_time=0.0)
  for k, v in res.items():
    print(f'{k:24s} {v["median"]:9.0f} samples/s  {1e6 * B / v["median"]:6.1f} us/step  clean={v["clean"]}')


if __name__ == '__main__':
  main()
