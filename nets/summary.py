"""Layer tables of real modules, traced with `jax.eval_shape`: nothing is allocated.

`layers(model, input_shape)` runs `model.init` abstractly while intercepting every module call;
each innermost module (a conv, a dense layer, a pool, a norm) becomes one `Layer` with its
output shape and its own parameters. From those, per layer:
  * multiply-adds: a layer with a 'kernel' applies every kernel weight once per output position
    (conv, grouped or partial conv: Ho*Wo*|kernel|; dense: |kernel|);
  * connections (LeCun et al. 1998's count): multiply-adds plus one bias input per output unit;
    a pool reads its window per output unit (plus a bias, for LeNet-5's trainable subsampling);
  * receptive field and jump (input pixels between neighbouring outputs) along a plain stack.
"""

import dataclasses
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np


@dataclasses.dataclass(frozen=True)
class Layer:
  path: str  # e.g. 'inception_3a/Sequential_1/layers_0'
  kind: str  # 'conv' | 'dense' | 'pool' | 'other' (norms and parameter-free modules)
  output_shape: tuple  # without the batch axis
  params: int
  biases: int
  kernel: int  # weights that multiply inputs
  window: tuple | None  # kernel or pool window (h, w), for receptive fields
  stride: tuple | None

  @property
  def activations(self) -> int:
    return math.prod(self.output_shape)

  @property
  def positions(self) -> int:
    return math.prod(self.output_shape[:-1])

  @property
  def macs(self) -> int:
    return self.kernel * self.positions if self.kind in ('conv', 'dense') else 0

  @property
  def connections(self) -> int:
    bias = self.biases * self.positions
    if self.kind == 'pool':
      return self.activations * math.prod(self.window) + bias
    return self.macs + bias


def _size(tree) -> int:
  return sum(math.prod(x.shape) for x in jax.tree.leaves(tree))


def _pair(v):
  if v is None:
    return None
  return (int(v), int(v)) if isinstance(v, (int, np.integer)) else tuple(int(a) for a in v)


def _layer(module, out, variables) -> Layer:
  params = variables.get('params', {})
  kernel = params.get('kernel')
  window = getattr(module, 'kernel_size', None) or getattr(module, 'window', None)
  stride = getattr(module, 'strides', None)
  if kernel is not None:
    kind = 'dense' if kernel.ndim == 2 else 'conv'
  elif hasattr(module, 'window'):
    kind = 'pool'
    window = window or tuple(out.shape[1:3])
  else:
    kind = 'other'
  if kind in ('conv', 'pool'):
    window = _pair(window)
    stride = _pair(stride) or (window if kind == 'pool' else (1, 1))
  else:
    window = stride = None
  return Layer(
    path='/'.join(module.scope.path) or type(module).__name__,
    kind=kind,
    output_shape=tuple(out.shape[1:]),
    params=_size(params),
    biases=_size(params.get('bias', {})),
    kernel=0 if kernel is None else math.prod(kernel.shape),
    window=window,
    stride=stride,
  )


def layers(model: nn.Module, input_shape, train: bool | None = False) -> list[Layer]:
  """The innermost module calls of `model.init` on one input of `input_shape` (no batch axis).

  `train` is passed to the model's call (the nets' convention); None passes nothing (a plain layer).
  """
  found, stack = [], []

  def interceptor(next_fun, args, kwargs, context):
    if context.method_name != '__call__':
      return next_fun(*args, **kwargs)
    if stack:
      stack[-1][1] = False
    entry = [context.module, True]
    stack.append(entry)
    try:
      out = next_fun(*args, **kwargs)
    finally:
      stack.pop()
    if entry[1] and context.module.scope is not None:
      found.append(_layer(context.module, out, context.module.variables))
    return out

  kwargs = {} if train is None else {'train': train}
  x = jax.ShapeDtypeStruct((1, *input_shape), jnp.float32)

  def init(x):
    with nn.intercept_methods(interceptor):
      return model.init(jax.random.PRNGKey(0), x, **kwargs)

  variables = jax.eval_shape(init, x)
  if sum(r.params for r in found) != _size(variables.get('params', {})):
    raise AssertionError(f'{type(model).__name__}: layer parameters do not add up to the total.')
  return found


def output_shape(model: nn.Module, input_shape, train: bool | None = False) -> tuple:
  """The model's output shape for one input of `input_shape` (no batch axis)."""
  kwargs = {} if train is None else {'train': train}
  x = jax.ShapeDtypeStruct((1, *input_shape), jnp.float32)
  out = jax.eval_shape(lambda x: model.init_with_output(jax.random.PRNGKey(0), x, **kwargs)[0], x)
  return tuple(out.shape[1:])


def totals(table) -> dict:
  return {
    'params': sum(r.params for r in table),
    'macs': sum(r.macs for r in table),
    'connections': sum(r.connections for r in table),
    'activations': sum(r.activations for r in table if r.kind != 'other'),
  }


def receptive_fields(stack):
  """Receptive field and jump after each (window, stride) of a plain stack of convs and pools.

  r_out = r_in + (k - 1) * j_in and j_out = j_in * s, per axis, starting from a pixel (1, 1).
  Padding moves the field but does not change its size.
  """
  r, j, out = 1, 1, []
  for k, s in stack:
    r, j = r + (k - 1) * j, j * s
    out.append((r, j))
  return out


def stack_of(table):
  """The (window, stride) of each conv and pool of a layer table, along its first axis."""
  return [(r.window[0], r.stride[0]) for r in table if r.kind in ('conv', 'pool')]
