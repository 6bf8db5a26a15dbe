"""The LeNet family: LeNet-5 (LeCun et al. 1998) and the "Caffe" LeNet the assignment trained.

Both sow their feature maps into the 'intermediates' collection ('conv1', 'pool1', ...), so a
finding can show what a layer sees (`apply(..., mutable=['intermediates'])`).
"""

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from nets import conv_ops, initializers

# LeNet-5's Table I: which S2 maps (rows of the paper's table) feed each C3 map. The first six
# take 3 contiguous maps, the next six 4 contiguous, three take 4 discontinuous, the last all 6.
C3_TABLE = (
  (0, 1, 2),
  (1, 2, 3),
  (2, 3, 4),
  (3, 4, 5),
  (4, 5, 0),
  (5, 0, 1),
  (0, 1, 2, 3),
  (1, 2, 3, 4),
  (2, 3, 4, 5),
  (3, 4, 5, 0),
  (4, 5, 0, 1),
  (5, 0, 1, 2),
  (0, 1, 3, 4),
  (1, 2, 4, 5),
  (0, 2, 3, 5),
  (0, 1, 2, 3, 4, 5),
)


def scaled_tanh(x):
  """LeNet-5's squashing function f(a) = A tanh(S a), A = 1.7159, S = 2/3 (appendix A)."""
  return 1.7159 * jnp.tanh(2.0 / 3.0 * x)


class Subsampling(nn.Module):
  """LeNet-5's S layers: each unit adds a 2x2 block, times a trainable coefficient, plus a bias.

  Two parameters per map (S2: 12, S4: 32); no overlap between blocks.
  """

  window: tuple = (2, 2)

  @nn.compact
  def __call__(self, x):
    c = x.shape[-1]
    scale = self.param('scale', nn.initializers.ones_init(), (c,))
    bias = self.param('bias', nn.initializers.zeros_init(), (c,))
    n, h, w, _ = x.shape
    kh, kw = self.window
    blocks = x[:, : h - h % kh, : w - w % kw].reshape(n, h // kh, kh, w // kw, kw, c)
    return blocks.sum(axis=(2, 4)) * scale + bias


class PartialConv(nn.Module):
  """A VALID convolution whose output map j sees only the input maps `table[j]`.

  Only the connected kernels are parameters ('kernel' holds them packed, kh x kw x connections),
  so the count is the paper's: C3 has 25 * 60 + 16 = 1,516. They are scattered into a dense
  kernel with zeros elsewhere and run as one convolution.
  """

  table: tuple
  kernel_size: tuple = (5, 5)
  kernel_init: nn.initializers.Initializer = nn.initializers.lecun_uniform()
  impl: str = 'auto'

  @nn.compact
  def __call__(self, x):
    pairs = [(i, j) for j, inputs in enumerate(self.table) for i in inputs]
    rows, cols = np.array(pairs).T
    kh, kw = self.kernel_size
    cin, cout = x.shape[-1], len(self.table)
    packed = self.param('kernel', self.kernel_init, (kh, kw, len(pairs)))
    bias = self.param('bias', nn.initializers.zeros_init(), (cout,))
    kernel = jnp.zeros((kh, kw, cin, cout), packed.dtype).at[:, :, rows, cols].set(packed)
    return conv_ops.conv2d(x, kernel, bias, padding='VALID', impl=self.impl)


class LeNet5(nn.Module):
  """LeNet-5: C1 6@5x5, S2, C3 16@5x5 (partial table), S4, C5 120@5x5, F6 84, output.

  60,000 trainable parameters up to F6, as the paper says. The input is padded from 28x28 to the
  paper's 32x32 and mapped to its levels (background -0.1, ink 1.175), so the padding is
  background. Every layer up to F6 ends in the scaled tanh. The paper's output layer of fixed
  Euclidean RBF units (84 x 10, chosen by hand from 7x12 bitmaps) is a trained dense layer here,
  trained with the engine's softmax cross-entropy: 850 parameters, 60,850 in all.
  """

  num_classes: int = 10
  kernel_init: str = 'lecun_uniform'
  conv_impl: str = 'auto'

  @nn.compact
  def __call__(self, x, *, train: bool, dropout_rate=0.0):
    del train, dropout_rate  # no dropout or batch norm in this net
    kinit = initializers.get(self.kernel_init, 1.0)
    pad = [(max(0, (32 - d) // 2), max(0, 32 - d - (32 - d) // 2)) for d in x.shape[1:3]]
    x = jnp.pad(x, ((0, 0), *pad, (0, 0))) * 1.275 - 0.1
    x = scaled_tanh(
      conv_ops.Conv(6, (5, 5), padding='VALID', kernel_init=kinit, impl=self.conv_impl, name='C1')(
        x
      )
    )
    self.sow('intermediates', 'conv1', x)
    x = scaled_tanh(Subsampling(name='S2')(x))
    self.sow('intermediates', 'pool1', x)
    x = scaled_tanh(PartialConv(C3_TABLE, kernel_init=kinit, impl=self.conv_impl, name='C3')(x))
    self.sow('intermediates', 'conv2', x)
    x = scaled_tanh(Subsampling(name='S4')(x))
    x = scaled_tanh(
      conv_ops.Conv(
        120, (5, 5), padding='VALID', kernel_init=kinit, impl=self.conv_impl, name='C5'
      )(x)
    )
    x = x.reshape((x.shape[0], -1))
    x = scaled_tanh(nn.Dense(84, kernel_init=kinit, name='F6')(x))
    return nn.Dense(self.num_classes, kernel_init=kinit, name='output')(x)


class CaffeLeNet(nn.Module):
  """conv 20@5x5, pool, conv 50@5x5, pool, dense 500 + ReLU, dense 10 (431,080 parameters).

  As in Caffe's `examples/mnist/lenet_train_test.prototxt`: VALID convolutions, no nonlinearity
  after the convolutions. 28x28 input gives 24, 12, 8, 4. Caffe's "xavier" filler there draws
  uniformly with variance 1/fan_in, which is kernel_init='lecun_uniform' (the LeNet finding's);
  the default here is Glorot-uniform.
  """

  num_classes: int = 10
  kernel_init: str = 'glorot_uniform'
  conv_impl: str = 'auto'
  pool_impl: str = 'auto'
  dtype: str = 'float32'  # compute dtype; 'bfloat16' keeps float32 parameters and logits

  @nn.compact
  def __call__(self, x, *, train: bool, dropout_rate=0.0):
    del train, dropout_rate  # no dropout or batch norm in this net
    kinit = initializers.get(self.kernel_init, 1.0)
    dtype = jnp.dtype(self.dtype)
    pool_impl = conv_ops.default_impl('pool') if self.pool_impl == 'auto' else self.pool_impl
    for i, features in enumerate((20, 50), start=1):
      x = conv_ops.Conv(
        features, (5, 5), padding='VALID', kernel_init=kinit, impl=self.conv_impl, dtype=dtype
      )(x)
      self.sow('intermediates', f'conv{i}', x)
      x = conv_ops.max_pool_2x2(x, pool_impl)
      self.sow('intermediates', f'pool{i}', x)
    x = x.reshape((x.shape[0], -1))
    x = nn.relu(nn.Dense(500, kernel_init=kinit, dtype=dtype)(x))
    return nn.Dense(self.num_classes, kernel_init=kinit, dtype=dtype)(x).astype(jnp.float32)
