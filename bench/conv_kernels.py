"""Each convolution pass of the CNN and LeNet steps alone: XLA:CPU's kernels against oneDNN's.

    python -m bench.conv_kernels [--rounds 3]

Times the forward conv (recording for autograd, as in training), its input gradient and its
kernel gradient at the shapes of the nets' steps: JAX (`lax.conv_general_dilated`, NHWC/HWIO,
the engine's XLA flags) in one worker process and PyTorch (`torch.nn.functional.conv2d`, NCHW)
in another, alternating rounds (`bench.run.pair`). It prints milliseconds per call and
PyTorch/JAX ratios: where a step's conv time goes, which the step-level workloads of
`python -m bench` cannot separate.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any, NamedTuple

# name: (batch, input height = width, input channels, output channels, kernel, padding)
CONVS = {
  'lenet_conv2': (64, 12, 20, 50, 5, 0),
  'lenet_conv1': (64, 28, 1, 20, 5, 0),
  'cnn_conv2': (128, 14, 16, 32, 3, 1),
}
PASSES = ('forward', 'input_grad', 'kernel_grad')
CALLS = 10  # per fn() call: the worker's rate is calls/s


class Pass(NamedTuple):
  run: Callable[[], int]  # CALLS calls of the pass; returns CALLS
  result: Any  # one call's output, NHWC/HWIO numpy


def inputs(conv: str, seed: int = 0):
  """(x NHWC, w HWIO, g NHWC): an input, a kernel and an output gradient of `conv`, float32."""
  import numpy as np

  n, h, cin, cout, k, p = CONVS[conv]
  rng = np.random.default_rng(seed)
  out = h + 2 * p - k + 1
  return tuple(
    rng.standard_normal(shape, dtype=np.float32)
    for shape in ((n, h, h, cin), (k, k, cin, cout), (n, out, out, cout))
  )


def _jax_pass(conv: str, which: str, x, w, g) -> Pass:
  import jax
  import numpy as np
  from jax import lax

  p = CONVS[conv][5]

  def f(x, w):
    return lax.conv_general_dilated(
      x, w, (1, 1), ((p, p), (p, p)), dimension_numbers=('NHWC', 'HWIO', 'NHWC')
    )

  x, w, g = (jax.device_put(a) for a in (x, w, g))
  if which == 'forward':
    prog = jax.jit(f)
    args = (x, w)
  elif which == 'input_grad':
    prog = jax.jit(lambda x, w, g: jax.vjp(lambda x: f(x, w), x)[1](g)[0])
    args = (x, w, g)
  else:
    prog = jax.jit(lambda x, w, g: jax.vjp(lambda w: f(x, w), w)[1](g)[0])
    args = (x, w, g)
  result = np.asarray(prog(*args))

  def run():
    for _ in range(CALLS):
      out = prog(*args)
    jax.block_until_ready(out)
    return CALLS

  return Pass(run, result)


def _torch_pass(conv: str, which: str, x, w, g) -> Pass:
  """The pass in NCHW; its result transposed back to NHWC/HWIO."""
  import torch

  p = CONVS[conv][5]
  # As in a train step: the kernel needs its gradient, a hidden layer's input too.
  hidden = CONVS[conv][2] > 1 or which == 'input_grad'
  x = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()).requires_grad_(hidden)
  w = torch.from_numpy(w.transpose(3, 2, 0, 1).copy()).requires_grad_(True)
  g = torch.from_numpy(g.transpose(0, 3, 1, 2).copy())
  if which == 'forward':

    def once():
      return torch.nn.functional.conv2d(x, w, padding=p)
  else:
    y = torch.nn.functional.conv2d(x, w, padding=p)
    wrt = x if which == 'input_grad' else w

    def once():
      return torch.autograd.grad(y, wrt, g, retain_graph=True)[0]

  result = once().detach().numpy()
  result = result.transpose(2, 3, 1, 0) if which == 'kernel_grad' else result.transpose(0, 2, 3, 1)

  def run():
    for _ in range(CALLS):
      once()
    return CALLS

  return Pass(run, result)


def make_pass(framework: str, conv: str, which: str, seed: int = 0) -> Pass:
  """One conv pass of `framework` ('jax' or 'torch') on `inputs(conv, seed)`."""
  make = _jax_pass if framework == 'jax' else _torch_pass
  return make(conv, which, *inputs(conv, seed))


def build(framework: str, spec: dict):
  """(fn, info) for `bench.worker`: fn() runs CALLS calls of one conv pass."""
  return make_pass(framework, spec['conv'], spec['pass']).run, {}


def main(argv=None):
  from bench import machine, run

  p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  p.add_argument('--rounds', type=int, default=3)
  p.add_argument('--min_time', type=float, default=0.5)
  a = p.parse_args(argv)
  print(machine.summary())
  rows = []
  for conv in CONVS:
    for which in PASSES:
      if which == 'input_grad' and CONVS[conv][2] == 1:
        continue  # an image layer's input gradient is never computed
      spec = {'workload': 'conv_pass', 'conv': conv, 'pass': which}
      res, _ = run.pair(
        {f: dict(spec, framework=f) for f in ('jax', 'torch')}, a.rounds, a.min_time
      )
      ms = {f: 1e3 / res[f]['median'] for f in res}
      row = dict(
        conv=conv,
        shape=CONVS[conv],
        pass_=which,
        jax_ms=round(ms['jax'], 3),
        torch_ms=round(ms['torch'], 3),
        torch_over_jax=round(ms['torch'] / ms['jax'], 2),
        clean=all(res[f]['clean'] for f in res),
      )
      rows.append(row)
      print(json.dumps(row), flush=True)
  for conv in CONVS:
    mine = [r for r in rows if r['conv'] == conv]
    jax_ms, torch_ms = sum(r['jax_ms'] for r in mine), sum(r['torch_ms'] for r in mine)
    print(f'{conv}: passes sum jax {jax_ms:.2f} ms, torch {torch_ms:.2f} ms')


if __name__ == '__main__':
  main()
