"""Idiomatic, fast PyTorch eager peers for the JAX benchmarks.

"Fast" means what a careful PyTorch user would write: in-memory tensors
sliced per batch (no DataLoader), zero_grad(set_to_none), the fastest of
the built-in optimizer implementations (see `optimizer`), and
torch.autocast(bfloat16) where the CPU has bf16 units.  Thread count is set
to XLA's so both frameworks use the same cores.  torch is imported lazily:
it is a bench-only extra.

Every `make_*` returns a callable that runs a few steps and returns how many
samples it processed, for `bench.timing.interleave`.
"""

from __future__ import annotations

import contextlib
import time

import numpy as np

from bench import machine

SWEEP_RATES = tuple(round(0.1 * i, 1) for i in range(10))


def _torch(threads: int | None = None):
  import torch

  torch.set_num_threads(threads or machine.thread_count())
  return torch


def _amp(torch, bf16: bool):
  return torch.autocast('cpu', dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def dropout_cnn(rate: float = 0.5):
  """The dropout sweep's CNN (experiments/dropout_sweep.py), NCHW.

  16c3-pool-drop-32c3-pool-drop-128-10 with Glorot-uniform weights and zero biases, as the
  Flax model initialises them, so the sweep's accuracies are comparable too.
  """
  torch = _torch()
  nn = torch.nn
  model = nn.Sequential(
    nn.Conv2d(1, 16, 3, padding=1),
    nn.ReLU(),
    nn.MaxPool2d(2),
    nn.Dropout(rate),
    nn.Conv2d(16, 32, 3, padding=1),
    nn.ReLU(),
    nn.MaxPool2d(2),
    nn.Dropout(rate),
    nn.Flatten(),
    nn.Linear(32 * 7 * 7, 128),
    nn.ReLU(),
    nn.Linear(128, 10),
  )
  for m in model:
    if isinstance(m, (nn.Conv2d, nn.Linear)):
      nn.init.xavier_uniform_(m.weight)
      nn.init.zeros_(m.bias)
  return model


def lenet():
  """Caffe LeNet: 20c5-pool-50c5-pool-500-10, VALID convs."""
  torch = _torch()
  nn = torch.nn
  return nn.Sequential(
    nn.Conv2d(1, 20, 5),
    nn.MaxPool2d(2),
    nn.Conv2d(20, 50, 5),
    nn.MaxPool2d(2),
    nn.Flatten(),
    nn.Linear(50 * 4 * 4, 500),
    nn.ReLU(),
    nn.Linear(500, 10),
  )


def mlp():
  """784-100-10 ReLU MLP."""
  torch = _torch()
  nn = torch.nn
  return nn.Sequential(nn.Flatten(), nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 10))


def cifar_resnet18():
  """kuangliu/pytorch-cifar's ResNet18 (the `003 P8` reference): 3x3 stem, no max-pool, 4 stages
  of 2 BasicBlocks 64/128/256/512, average pool, linear 10; 11,173,962 parameters."""
  torch = _torch()
  nn, f = torch.nn, torch.nn.functional

  class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
      super().__init__()
      self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
      self.bn1 = nn.BatchNorm2d(cout)
      self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
      self.bn2 = nn.BatchNorm2d(cout)
      self.shortcut = nn.Sequential()
      if stride != 1 or cin != cout:
        self.shortcut = nn.Sequential(
          nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
        )

    def forward(self, x):
      out = f.relu(self.bn1(self.conv1(x)))
      return f.relu(self.bn2(self.conv2(out)) + self.shortcut(x))

  layers, cin = [], 64
  for i, cout in enumerate((64, 128, 256, 512)):
    for b in range(2):
      layers.append(BasicBlock(cin, cout, 2 if i > 0 and b == 0 else 1))
      cin = cout
  return nn.Sequential(
    nn.Conv2d(3, 64, 3, 1, 1, bias=False),
    nn.BatchNorm2d(64),
    nn.ReLU(),
    *layers,
    nn.AdaptiveAvgPool2d(1),
    nn.Flatten(),
    nn.Linear(512, 10),
  )


def optimizer(params, kind: str = 'adam', impl: str = 'fused'):
  """Adam(lr 1e-3) or SGD(lr 0.01, momentum 0.9).

  impl: 'fused' (one C++ kernel per step, CPU-supported since torch 2.4),
  'foreach' (multi-tensor) or 'loop' (per-parameter, torch's CPU default).
  """
  torch = _torch()
  kw = {'fused': {'fused': True}, 'foreach': {'foreach': True}, 'loop': {'foreach': False}}[impl]
  if kind == 'adam':
    return torch.optim.Adam(params, lr=1e-3, **kw)
  if kind == 'cifar_sgd':  # kuangliu/pytorch-cifar's main.py
    return torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=5e-4, **kw)
  return torch.optim.SGD(params, lr=0.01, momentum=0.9, **kw)


def tensors(x: np.ndarray, y: np.ndarray, channels_last: bool = False):
  """NHWC numpy -> NCHW torch tensors (contiguous, or channels_last)."""
  torch = _torch()
  xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
  if channels_last:
    xt = xt.contiguous(memory_format=torch.channels_last)
  return xt, torch.from_numpy(y.astype(np.int64))


def make_trainer(model, opt, xt, yt, batch: int, bf16: bool = False):
  """A callable running `steps` train steps over consecutive batches.

  Batches cycle through the data in order (data pre-shuffled by caller).
  """
  torch = _torch()
  f = torch.nn.functional
  n_batches = len(xt) // batch
  state = {'i': 0}
  model.train()

  def run(steps: int = 1) -> int:
    for _ in range(steps):
      i = state['i']
      state['i'] = (i + 1) % n_batches
      xb, yb = xt[i * batch : (i + 1) * batch], yt[i * batch : (i + 1) * batch]
      with _amp(torch, bf16):
        loss = f.cross_entropy(model(xb), yb)
      opt.zero_grad(set_to_none=True)
      loss.backward()
      opt.step()
    return steps * batch

  return run


def make_step(
  net: str,
  x,
  y,
  batch: int | None = None,
  bf16: bool = False,
  opt_impl: str = 'fused',
  channels_last: bool = False,
  rate: float = 0.5,
  steps_per_call: int = 10,
  seed: int = 0,
):
  """Callable for `timing.interleave`: `steps_per_call` steps of `net`.

  net: 'cnn' (dropout CNN, Adam, batch 128), 'lenet' (SGD momentum, 64),
  'mlp' (Adam, 32), 'resnet18' (CIFAR ResNet-18, SGD momentum + weight decay, 128).
  """
  torch = _torch()
  torch.manual_seed(seed)
  nets = {'cnn': lambda: dropout_cnn(rate), 'lenet': lenet, 'mlp': mlp, 'resnet18': cifar_resnet18}
  model = nets[net]()
  batch = batch or {'cnn': 128, 'lenet': 64, 'mlp': 32, 'resnet18': 128}[net]
  if channels_last:
    model = model.to(memory_format=torch.channels_last)
  kind = {'lenet': 'sgd', 'resnet18': 'cifar_sgd'}.get(net, 'adam')
  opt = optimizer(model.parameters(), kind, opt_impl)
  xt, yt = tensors(x, y, channels_last)
  run = make_trainer(model, opt, xt, yt, batch, bf16)
  return lambda: run(steps_per_call)


def evaluate(model, xt, yt, bf16: bool = False, batch: int = 1000) -> dict:
  """Mean cross-entropy and accuracy with dropout off, in batches of `batch`."""
  torch = _torch()
  f = torch.nn.functional
  model.eval()
  correct, loss = 0, 0.0
  with torch.inference_mode(), _amp(torch, bf16):
    for i in range(0, len(xt), batch):
      logits = model(xt[i : i + batch]).float()
      loss += f.cross_entropy(logits, yt[i : i + batch], reduction='sum').item()
      correct += (logits.argmax(1) == yt[i : i + batch]).sum().item()
  model.train()
  return {'loss': loss / len(xt), 'accuracy': correct / len(xt)}


def dropout_sweep(
  splits: dict,
  rates=SWEEP_RATES,
  epochs: int = 1,
  batch: int = 128,
  eval_batch: int = 1000,
  seeds: int = 1,
  bf16: bool = False,
  opt_impl: str = 'fused',
) -> dict:
  """The dropout sweep as a PyTorch user would run it, doing the finding's work.

  One process, data loaded once; for each rate and seed a fresh model trained `epochs` epochs,
  each epoch followed by the finding's evaluation (engine/loop.py): loss and accuracy on every
  split in `splits` ({'train': (x, y), 'validation': ..., 'test': ...}, the train split already
  cut to the engine's `eval_train_size`), dropout off. `splits['fit']` is what is trained on.
  Returns total seconds, each rate's final test accuracy (mean over seeds), the evaluation's
  share of the time and the per-model training throughput.
  """
  torch = _torch()
  xt, yt = tensors(*splits['fit'])
  evals = {k: tensors(*v) for k, v in splits.items() if k != 'fit'}
  steps = len(xt) // batch
  acc, t0, t_eval = {}, time.perf_counter(), 0.0
  for r in rates:
    test = []
    for s in range(seeds):
      torch.manual_seed(s)
      model = dropout_cnn(r)
      opt = optimizer(model.parameters(), 'adam', opt_impl)
      for _ in range(epochs):
        order = torch.randperm(len(xt))  # a shuffled epoch, as the engine trains
        make_trainer(model, opt, xt[order], yt[order], batch, bf16)(steps)
        te = time.perf_counter()
        row = {k: evaluate(model, x, y, bf16, eval_batch) for k, (x, y) in evals.items()}
        t_eval += time.perf_counter() - te
      test.append(row['test']['accuracy'])
    acc[r] = float(np.mean(test))
  dt = time.perf_counter() - t0
  return {
    'seconds': dt,
    'eval_seconds': t_eval,
    'accuracy': acc,
    'evaluated_per_model_epoch': {k: len(v[1]) for k, v in evals.items()},
    'samples_per_s_per_model': len(rates) * seeds * epochs * steps * batch / (dt - t_eval),
  }
