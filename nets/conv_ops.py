"""Convolution and 2x2 max-pool building blocks with CPU-fast alternatives.

Why: XLA:CPU runs some of the ops a Flax CNN lowers to far slower than
PyTorch/oneDNN does (bench/STUDY.md has the numbers, jax 0.10.2, 2 cores):
  * conv with a 1-channel input (the image layer): ~10x slower than the
    same conv written as 9 shifted multiply-adds;
  * max-pool backward via select-and-scatter (`nn.max_pool`): ~20x slower
    than an elementwise mask;
  * a bias gradient (sum over N*H*W) becomes a slow reduce-window tree.
Each impl below is exact (same values and gradients as lax up to float
rounding; see tests/nets_conv_ops_test.py) and differs only in speed.

All arrays are NHWC, kernels HWIO (the `flax.linen.Conv` layout), stride 1.

conv2d impls:
  'lax'     lax.conv_general_dilated (the reference; the default off CPU).
  'patches' im2col: kh*kw shifted slices concatenated, then one matmul.
  'shifts'  sum over taps of shifted input x tap kernel (elementwise for
            cin == 1); backward = lax's transposes.  For the image layer.
  'auto'    per layer, `default_impl('conv', cin=..., padding=...)`; on CPU
            bias gradients are also computed as matmuls (`bias_add`).
max_pool_2x2 impls: 'lax' (nn.max_pool) | 'reshape' (elementwise first-maximum
  selects over a (N,H/2,2,W/2,2,C) view) | 'auto'.  Every conv impl name is accepted
  too, meaning 'reshape', so one `conv_impl` string can drive a model.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

CONV_IMPLS = ('lax', 'patches', 'shifts')
POOL_IMPLS = ('lax', 'reshape')

# Winners measured in bench/STUDY.md (XLA:CPU, jax 0.10.2).  Accelerators keep
# the library ops, which map to cuDNN / the TPU conv units.
_CPU_SHIFTS_MAX_CIN = 4


def default_impl(
  op: str = 'conv', backend: str | None = None, cin: int | None = None, taps: int = 9
) -> str:
  """Fastest measured impl of `op` ('conv' or 'pool') on `backend`.

  CPU pools with 'reshape'.  Its convs use 'shifts' for an image layer
  (cin <= 4) with a small kernel (taps = kh*kw <= 9; LeNet's 5x5 image
  layer measured faster with 'lax') and 'lax' otherwise, so with cin
  unknown the answer is 'auto' (decided per layer by `conv2d`).  Every other
  backend gets 'lax'.  `backend` defaults to `jax.default_backend()`.
  """
  if op not in ('conv', 'pool'):
    raise ValueError(f"op must be 'conv' or 'pool', got {op!r}")
  backend = backend or jax.default_backend()
  if backend != 'cpu':
    return 'lax'
  if op == 'pool':
    return 'reshape'
  if cin is None:
    return 'auto'
  return 'shifts' if cin <= _CPU_SHIFTS_MAX_CIN and taps <= 9 else 'lax'


def _pads(padding: str | Sequence[tuple[int, int]], kh: int, kw: int):
  """Explicit ((lo, hi), (lo, hi)) spatial pads, matching XLA's SAME rule."""
  if isinstance(padding, str):
    p = padding.upper()
    if p == 'VALID':
      return ((0, 0), (0, 0))
    if p == 'SAME':
      # stride 1: total pad k-1, the extra one (even k) goes on the high side.
      return (((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2))
    raise ValueError(f'unsupported padding {padding!r}')
  (a, b), (c, d) = padding
  return ((int(a), int(b)), (int(c), int(d)))


def extract_patches(x: jax.Array, kh: int, kw: int, padding='SAME') -> jax.Array:
  """(N,H,W,C) -> (N,Ho,Wo,kh*kw*C), features ordered (kh, kw, C) like HWIO.

  Built from kh*kw static slices and one concatenate: its gradient is a sum
  of pads, which fuses into one elementwise loop (unlike the gather/conv
  that `lax.conv_general_dilated_patches` lowers to, ~8x slower here).
  """
  (pt, pb), (pl, pr) = _pads(padding, kh, kw)
  if pt or pb or pl or pr:
    x = jnp.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
  _, h, w, _ = x.shape
  ho, wo = h - kh + 1, w - kw + 1
  cols = [x[:, i : i + ho, j : j + wo, :] for i in range(kh) for j in range(kw)]
  return cols[0] if len(cols) == 1 else jnp.concatenate(cols, axis=-1)


def _lax_conv(x, kernel, padding, accum_dtype=None):
  kh, kw = kernel.shape[:2]
  return lax.conv_general_dilated(
    x,
    kernel,
    window_strides=(1, 1),
    padding=_pads(padding, kh, kw),
    dimension_numbers=('NHWC', 'HWIO', 'NHWC'),
    preferred_element_type=accum_dtype,
  )


def materialize(x, like):
  """x, but computed once into its own buffer.

  XLA:CPU fuses cheap elementwise producers into every consumer, recomputing
  them; it never duplicates an 'expensive' op such as a divide.  Dividing by
  a runtime 1 (derived from `like`, so XLA cannot fold it) costs one
  vector divide per element and makes x a real buffer (jax's
  `optimization_barrier` would be the clean way, but XLA:CPU strips it
  before fusion).  Gradient: identity in x, none to `like`.  `like` must
  be finite (a NaN there would poison x).  (XLA's simplifier turns the
  divide by a broadcast scalar into a multiply by its reciprocal, so the
  producer can still be fused into several consumers; dividing by a
  full-shape 1 prevents that but measured no faster once the pool's
  gradient stopped reading the conv: bench/STUDY.md, round 3.)
  """
  one = lax.stop_gradient(1.0 + 0.0 * like.reshape(-1)[0].astype(x.dtype))
  return x / one


def _shifts_forward(x, kernel, padding, accum_dtype):
  """Sum over the kh*kw taps of (shifted input) x (that tap's kernel).

  With Cin == 1 every tap is a broadcast multiply, so the whole conv is ONE
  elementwise loop reading the image once: ~10x faster than XLA:CPU's
  conv for the 1-channel first layer (whose generic conv kernel handles a
  size-1 feature dim badly).  Input and output are materialised (see
  `materialize`): fused into its consumers the tap sum would be recomputed
  by each (ReLU, pool, their gradients), and fused with a dynamic-slice
  producer (a batch taken from an epoch array) it loses vectorisation; each
  costs 5-10x.
  """
  kh, kw, cin, _ = kernel.shape
  if accum_dtype is not None:
    x, kernel = x.astype(accum_dtype), kernel.astype(accum_dtype)
  (pt, pb), (pl, pr) = _pads(padding, kh, kw)
  x = materialize(jnp.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0))), kernel)
  ho, wo = x.shape[1] - kh + 1, x.shape[2] - kw + 1
  y = None
  for i in range(kh):
    for j in range(kw):
      xs = x[:, i : i + ho, j : j + wo, :]
      t = xs * kernel[i, j, 0] if cin == 1 else jnp.einsum('nhwc,co->nhwo', xs, kernel[i, j])
      y = t if y is None else y + t
  return materialize(y, kernel)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _conv_shifts(x, kernel, padding, accum_dtype):
  return _shifts_forward(x, kernel, padding, accum_dtype)


def _conv_shifts_fwd(x, kernel, padding, accum_dtype):
  return _shifts_forward(x, kernel, padding, accum_dtype), (x, kernel)


def _conv_shifts_bwd(padding, accum_dtype, res, g):
  # The shifts' own transpose would be kh*kw (n,h,w)-reductions per tap,
  # slow on XLA:CPU; the lax conv's transposes (input-grad conv, and the
  # kernel-grad conv, which XLA:CPU runs fast) give the same values.  The
  # primal conv in this vjp is dead code and XLA removes it.
  x, kernel = res
  _, vjp = jax.vjp(lambda x, k: _lax_conv(x, k, padding, accum_dtype), x, kernel)
  return vjp(g.astype(accum_dtype or g.dtype))


_conv_shifts.defvjp(_conv_shifts_fwd, _conv_shifts_bwd)


@jax.custom_vjp
def bias_add(y: jax.Array, bias: jax.Array) -> jax.Array:
  """y + bias (over the last axis) whose bias gradient is a matmul.

  The plain add's gradient is a sum over N*H*W rows, which XLA:CPU rewrites
  into a slow reduce-window tree (1.5 ms for the first layer at batch 128);
  ones(1, rows) @ g(rows, C) computes the same sum as a GEMV, 3-7x faster.
  """
  return y + bias.astype(y.dtype)


def _bias_add_fwd(y, bias):
  return bias_add(y, bias), bias


def _bias_add_bwd(bias, g):
  g2 = g.reshape(-1, g.shape[-1])
  ones = jnp.ones((1, g2.shape[0]), g2.dtype)
  db = lax.dot_general(ones, g2, (((1,), (0,)), ((), ())), preferred_element_type=jnp.float32)
  return g, db.reshape(bias.shape).astype(bias.dtype)


bias_add.defvjp(_bias_add_fwd, _bias_add_bwd)


def conv2d(
  x: jax.Array,
  kernel: jax.Array,
  bias: jax.Array | None = None,
  padding='SAME',
  impl: str = 'lax',
  accum_dtype: Any = None,
) -> jax.Array:
  """Stride-1 2-D convolution, NHWC x HWIO -> NHWC, plus optional bias.

  impl: see the module docstring; 'auto' picks `default_impl('conv',
  cin=...)` for this layer's input channels.
  accum_dtype: if given (e.g. float32 with bfloat16 inputs) the product is
  accumulated and returned in that dtype; the caller decides when to cast
  back.  Otherwise the result has the inputs' dtype (as flax does).
  """
  kh, kw, cin, cout = kernel.shape
  plain_bias = impl == 'lax'
  if impl == 'auto':
    impl = default_impl('conv', cin=cin, taps=kh * kw)
    plain_bias = jax.default_backend() != 'cpu'
  if impl == 'lax':
    y = _lax_conv(x, kernel, padding, accum_dtype)
  elif impl == 'patches':
    p = extract_patches(x, kh, kw, padding)
    y = lax.dot_general(
      p,
      kernel.reshape(kh * kw * cin, cout),
      (((3,), (0,)), ((), ())),
      preferred_element_type=accum_dtype,
    )
  elif impl == 'shifts':
    padding = padding.upper() if isinstance(padding, str) else _pads(padding, kh, kw)
    y = _conv_shifts(x, kernel, padding, accum_dtype)
  else:
    raise ValueError(f'conv impl must be one of {CONV_IMPLS}, got {impl!r}')
  if bias is not None:
    y = y + bias.astype(y.dtype) if plain_bias else bias_add(y, bias)
  return y


def _first_max(a: jax.Array, b: jax.Array) -> jax.Array:
  """max(a, b) whose gradient goes wholly to `a` on a tie (jnp.maximum's splits it 1/2, 1/2)."""
  return jnp.where(a >= b, a, b)


# How the reshape pool's gradient is formed: 'mask' writes the input gradient in one
# elementwise pass (`_pool_windows`); 'stack' stacks four quarter-size selects instead (the
# form before 2026-12-03); 'transpose' leaves it to jax, whose transpose of the selects is four
# full-size pads summed (bench/STUDY.md, round 3).
POOL_BACKWARD = 'mask'


def _pool_max(x6: jax.Array) -> jax.Array:
  """First maximum of each (N,H/2,[2],W/2,[2],C) window, as pairwise selects."""
  top = _first_max(x6[:, :, 0, :, 0], x6[:, :, 0, :, 1])
  bottom = _first_max(x6[:, :, 1, :, 0], x6[:, :, 1, :, 1])
  return _first_max(top, bottom)


@jax.custom_vjp
def _pool_windows(x6: jax.Array) -> jax.Array:
  return _pool_max(x6)


def _pool_windows_fwd(x6):
  return _pool_max(x6), x6


def _window_choices(x6: jax.Array):
  """`_pool_max`'s comparisons: (first of the top pair, first of the bottom pair, top wins)."""
  top_first = x6[:, :, 0, :, 0] >= x6[:, :, 0, :, 1]
  bottom_first = x6[:, :, 1, :, 0] >= x6[:, :, 1, :, 1]
  top = jnp.where(top_first, x6[:, :, 0, :, 0], x6[:, :, 0, :, 1])
  bottom = jnp.where(bottom_first, x6[:, :, 1, :, 0], x6[:, :, 1, :, 1])
  return top_first, bottom_first, top >= bottom


def _pool_picks(x6: jax.Array) -> jax.Array:
  """Which element of each window `_pool_max` picks: 0-3 in row-major order, as int8."""
  top_first, bottom_first, top_wins = _window_choices(x6)
  pick = jnp.where(top_wins, jnp.where(top_first, 0, 1), jnp.where(bottom_first, 2, 3))
  return pick.astype(jnp.int8)


_WINDOW_POSITIONS = ((0, 1), (2, 3))


def _pool_windows_bwd(x6, g):
  """The window gradient to the element `_pool_max` picks, as one elementwise pass.

  The choice is remade from x6's comparisons, not from equality with the output: XLA may
  recompute x6 in another fusion with different rounding, and an equality test then finds no
  maximum and drops the window's gradient. The input gradient is one select over the
  (N,H/2,2,W/2,2,C) view, the window's pick and g broadcast into it: no stack of four
  quarter-size selects, which XLA:CPU split into several fusions and concatenates.
  """
  if POOL_BACKWARD == 'stack':
    return _pool_windows_bwd_stack(x6, g)
  pick = _pool_picks(x6)[:, :, None, :, None, :]
  position = jnp.asarray(_WINDOW_POSITIONS, jnp.int8)[None, None, :, None, :, None]
  zero = jnp.zeros((), g.dtype)
  return (jnp.where(pick == position, g[:, :, None, :, None, :], zero),)


def _pool_windows_bwd_stack(x6, g):
  """The same gradient as four quarter-size selects stacked (the form before 2026-12-03)."""
  top_first, bottom_first, top_wins = _window_choices(x6)
  picks = (
    (top_wins & top_first, top_wins & ~top_first),
    (~top_wins & bottom_first, ~top_wins & ~bottom_first),
  )
  zero = jnp.zeros((), g.dtype)
  rows = [jnp.stack([jnp.where(p, g, zero) for p in row], axis=3) for row in picks]
  return (jnp.stack(rows, axis=2),)


_pool_windows.defvjp(_pool_windows_fwd, _pool_windows_bwd)


def max_pool_2x2(x: jax.Array, impl: str = 'lax') -> jax.Array:
  """2x2 max-pool, stride 2, VALID (odd trailing row/column dropped).

  'reshape' views x as (N,H/2,2,W/2,2,C) and takes three pairwise maxima
  (within each row pair, then across the rows) as selects.  Forward and
  backward are plain elementwise fusions: no select-and-scatter (the 'lax'
  gradient, ~20x slower on XLA:CPU) and no reduction.  Values and gradients
  equal 'lax' also on TIES: each window's gradient goes wholly to its first
  maximum in row-major order, the element select-and-scatter (and PyTorch's
  max_pool2d) picks.  Ties are common on real digits: saturated strokes give
  equal 3x3 patches, hence equal conv outputs; a split gradient (what
  `jnp.maximum` does) changed the image-layer kernel gradient by ~1 %.
  """
  if impl == 'auto':
    impl = default_impl('pool')
  if impl == 'lax':
    return nn.max_pool(x, (2, 2), strides=(2, 2), padding='VALID')
  if impl in ('reshape', 'patches', 'shifts'):
    n, h, w, c = x.shape
    h2, w2 = h // 2, w // 2
    if (h, w) != (2 * h2, 2 * w2):
      x = x[:, : 2 * h2, : 2 * w2, :]
    x = x.reshape(n, h2, 2, w2, 2, c)
    return _pool_max(x) if POOL_BACKWARD == 'transpose' else _pool_windows(x)
  raise ValueError(f'pool impl must be one of {POOL_IMPLS}, got {impl!r}')


class Conv(nn.Module):
  """Stride-1 2-D conv with `flax.linen.Conv`'s params ('kernel' HWIO, 'bias').

  Params are interchangeable with `nn.Conv(features, kernel_size, padding=...)`
  so a checkpoint does not depend on `impl`.  `dtype` is the compute dtype
  (e.g. jnp.bfloat16 with f32 `param_dtype`: params are cast per call, the
  product accumulates in float32 and the output is cast to `dtype`).
  """

  features: int
  kernel_size: Sequence[int] = (3, 3)
  padding: Any = 'SAME'
  use_bias: bool = True
  impl: str = 'lax'
  dtype: Any = None
  param_dtype: Any = jnp.float32
  kernel_init: Callable = nn.initializers.lecun_normal()
  bias_init: Callable = nn.initializers.zeros_init()

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    kh, kw = self.kernel_size
    kernel = self.param(
      'kernel', self.kernel_init, (kh, kw, x.shape[-1], self.features), self.param_dtype
    )
    bias = (
      self.param('bias', self.bias_init, (self.features,), self.param_dtype)
      if self.use_bias
      else None
    )
    x, kernel, bias = nn.dtypes.promote_dtype(x, kernel, bias, dtype=self.dtype)
    low = x.dtype in (jnp.bfloat16, jnp.float16)
    y = conv2d(
      x,
      kernel,
      bias,
      padding=self.padding,
      impl=self.impl,
      accum_dtype=jnp.float32 if low else None,
    )
    return y.astype(x.dtype)
