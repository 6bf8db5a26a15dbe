"""One framework's timing worker, each in its own process, driven round by round by the suite.

Why: timed in one process, the two frameworks share it: PyTorch's OpenMP pool and XLA's Eigen
pool, the allocator's state, the page cache of the data. The previous round saw the JAX MLP
run slower right after PyTorch in the same process. Here each side builds its program once in
a child of its own and the suite (bench/run.py) asks the children for one timed round at a time,
alternating A B A B, so load from elsewhere still hits both alike; an idle child sleeps in a
blocking read.

    python -m bench.worker '{"framework": "jax", "workload": "cnn"}'

Protocol: the child answers on stdout in lines starting with `PREFIX` and a JSON object: first
`info` (compile seconds, FLOPs per step ...), then one `{"rate", "other"}` per `{"min_time"}`
line read from stdin, and `{"peak_rss_mb"}` after `{"quit": true}`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import numpy as np

PREFIX = '@bench '
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MATMUL_N = 2048


def mnist(validation_size=5000, train_subset=0):
  """The framework's own MNIST split (numpy only, no jax), the same images for both sides."""
  import data

  root = os.environ.get('JAX_FINDINGS_DATA') or os.path.join(
    os.path.dirname(ROOT), 'shared', 'datasets'
  )
  return data.load(
    'mnist',
    data_dir=root,
    validation_size=validation_size,
    train_subset=train_subset or None,
    download=False,
    allow_standin=False,
  )


def peak_rss_mb(pid='self') -> float:
  """The process's resident-set high-water mark (VmHWM) in MB, or 0 once it is gone."""
  try:
    with open(f'/proc/{pid}/status') as f:
      for line in f:
        if line.startswith('VmHWM:'):
          return int(line.split()[1]) / 1024
  except OSError:
    pass
  return 0.0


def jax_matmul_call(dtype, n):
  """A call of jnp.dot on (n,n)x(n,n) (bf16 accumulates in float32), compiled; returns 1."""
  import jax
  import jax.numpy as jnp

  dt = jnp.dtype(dtype)
  rng = np.random.default_rng(0)
  a = jnp.asarray(rng.standard_normal((n, n)), dt)
  b = jnp.asarray(rng.standard_normal((n, n)), dt)
  f = jax.jit(lambda a, b: jnp.dot(a, b, preferred_element_type=jnp.float32))
  f(a, b).block_until_ready()
  return lambda: (f(a, b).block_until_ready(), 1)[1]


def torch_matmul_call(dtype, n):
  """A call of torch.mm on (n,n)x(n,n) (bf16 inputs where asked); returns 1."""
  from bench import torch_peers

  torch = torch_peers._torch()
  g = torch.Generator().manual_seed(0)
  a, b = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
  if dtype == 'bfloat16':
    a, b = a.bfloat16(), b.bfloat16()

  def run():
    with torch.inference_mode():
      torch.mm(a, b)
    return 1

  return run


def build(spec: dict):
  """(fn, info): fn() runs some work and returns how many items it did (samples, or matmuls)."""
  framework, workload = spec['framework'], spec['workload']
  dtype = spec.get('dtype', 'float32')
  if framework == 'jax':
    from engine import cpu_setup

    cpu_setup.configure()
    from bench import levers

    levers.apply(spec.get('levers', ()))
  if workload == 'conv_pass':
    from bench import conv_kernels

    return conv_kernels.build(framework, spec)
  if framework == 'jax' and workload in levers.WORKLOADS:
    return levers.WORKLOADS[workload](spec)
  if workload == 'matmul':
    n = spec.get('n', MATMUL_N)
    fn = (jax_matmul_call if framework == 'jax' else torch_matmul_call)(dtype, n)
    return fn, {'flops_per_item': 2.0 * n**3}
  ds = mnist(validation_size=0 if workload == 'mlp' else 5000)
  x, y = ds.train_x, ds.train_y
  rate = 0.0 if workload == 'mlp' else 0.5  # the MLP peer has no dropout
  if framework == 'jax':
    from bench import run

    return run.engine_trainer(workload, x, y, dtype=dtype, dropout_rate=rate)
  from bench import torch_peers

  net = {'cnn': 'cnn', 'lenet': 'lenet', 'mlp': 'mlp'}[workload]
  kw = dict(batch=32, steps_per_call=len(y) // 32) if workload == 'mlp' else {}
  fn = torch_peers.make_step(net, x, y, rate=rate, bf16=dtype == 'bfloat16', **kw)
  return fn, {}


def _send(obj):
  sys.stdout.write(PREFIX + json.dumps(obj) + '\n')
  sys.stdout.flush()


def main(argv=None):
  from bench import timing

  spec = json.loads((argv or sys.argv[1:])[0])
  fn, info = build(spec)
  fn()  # warm-up: the first call finds the compiled program, the allocator its pools
  _send({'info': info})
  for line in sys.stdin:
    cmd = json.loads(line)
    if cmd.get('quit'):
      break
    r, other = timing.rate(fn, cmd['min_time'])
    _send({'rate': r, 'other': other})
  _send({'peak_rss_mb': peak_rss_mb()})


class Worker:
  """The parent's handle on one worker process: `.info`, `.round(min_time)`, `.close()`."""

  def __init__(self, spec: dict):
    self.spec = spec
    self._log = tempfile.TemporaryFile('w+')
    self.proc = subprocess.Popen(
      [sys.executable, '-m', 'bench.worker', json.dumps(spec)],
      cwd=ROOT,
      stdin=subprocess.PIPE,
      stdout=subprocess.PIPE,
      stderr=self._log,
      text=True,
    )
    self.info = self._recv()['info']
    self.peak_rss_mb = None

  def _recv(self) -> dict:
    for line in self.proc.stdout:
      if line.startswith(PREFIX):
        return json.loads(line[len(PREFIX) :])
    self._log.seek(0)
    raise RuntimeError(
      f'bench worker {self.spec} exited ({self.proc.wait()}):\n{self._log.read()[-3000:]}'
    )

  def _send(self, obj):
    self.proc.stdin.write(json.dumps(obj) + '\n')
    self.proc.stdin.flush()

  def round(self, min_time: float) -> tuple[float, float]:
    """(items/s over at least min_time seconds, cores other processes used meanwhile)."""
    self._send({'min_time': min_time})
    r = self._recv()
    return r['rate'], r['other']

  def close(self) -> float:
    """Ends the worker; returns its peak RSS in MB."""
    if self.peak_rss_mb is None:
      self._send({'quit': True})
      self.peak_rss_mb = self._recv()['peak_rss_mb']
      self.proc.stdin.close()
      self.proc.wait()
      self._log.close()
    return self.peak_rss_mb

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    if exc[0] is None:
      self.close()
    else:
      self.proc.kill()
      self.proc.wait()


if __name__ == '__main__':
  main()
