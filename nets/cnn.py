"""A small VGG-style convolutional net: [conv, (bn), act, pool, (dropout)] blocks, then dense."""

from collections.abc import Sequence

import flax.linen as nn
import jax.numpy as jnp

from nets import activations, conv_ops, initializers
from nets.dropout import Dropout


class CNN(nn.Module):
  """Conv blocks of `conv_features` channels (each halves the resolution), then `dense` layers.

  Dropout (rate given at call time) follows each conv block if `dropout_after_conv` and
  each hidden dense layer if `dropout_after_dense`. `conv_impl`/`pool_impl` pick the
  convolution and pooling code ('auto': the fastest measured for the backend, see
  nets/conv_ops.py); the parameters are the same whichever is used. `dtype` is the compute
  dtype ('bfloat16': mixed precision, float32 parameters and accumulation, float32 logits).
  """

  conv_features: Sequence[int] = (16, 32)
  kernel_size: int = 3
  padding: str = 'SAME'
  dense: Sequence[int] = (128,)
  num_classes: int = 10
  activation: str = 'relu'
  kernel_init: str = 'glorot_uniform'
  init_scale: float = 1.0
  batch_norm: bool = False
  dropout_after_conv: bool = False
  dropout_after_dense: bool = True
  conv_impl: str = 'auto'
  pool_impl: str = 'auto'
  dtype: str = 'float32'

  @nn.compact
  def __call__(self, x, *, train: bool, dropout_rate=0.0):
    dtype = jnp.dtype(self.dtype)
    act = activations.get(self.activation)
    kinit = initializers.get(self.kernel_init, self.init_scale)
    k = (self.kernel_size, self.kernel_size)
    conv_impl = conv_ops.default_impl('conv') if self.conv_impl == 'auto' else self.conv_impl
    pool_impl = conv_ops.default_impl('pool') if self.pool_impl == 'auto' else self.pool_impl
    for features in self.conv_features:
      x = conv_ops.Conv(
        features,
        k,
        padding=self.padding,
        kernel_init=kinit,
        use_bias=not self.batch_norm,
        impl=conv_impl,
        dtype=dtype,
      )(x)
      if self.batch_norm:
        x = nn.BatchNorm(use_running_average=not train)(x)
      x = conv_ops.max_pool_2x2(act(x), pool_impl)
      if self.dropout_after_conv:
        x = Dropout()(x, dropout_rate, deterministic=not train)
    x = x.reshape((x.shape[0], -1))
    for width in self.dense:
      x = act(nn.Dense(width, kernel_init=kinit, dtype=dtype)(x))
      if self.dropout_after_dense:
        x = Dropout()(x, dropout_rate, deterministic=not train)
    return nn.Dense(self.num_classes, kernel_init=kinit, dtype=dtype)(x).astype(jnp.float32)
