"""The LeNet family: the "Caffe" LeNet the course assignment trained."""
import flax.linen as nn

from nets import conv_ops, initializers


class CaffeLeNet(nn.Module):
  """conv 20@5x5, pool, conv 50@5x5, pool, dense 500 + ReLU, dense 10 (431,080 parameters).

  As in Caffe's `examples/mnist/lenet_train_test.prototxt`: VALID convolutions, no nonlinearity
  after the convolutions, Xavier (Glorot-uniform) weights. 28x28 input gives 24, 12, 8, 4.
  """
  num_classes: int = 10
  kernel_init: str = 'glorot_uniform'
  conv_impl: str = 'auto'
  pool_impl: str = 'auto'

  @nn.compact
  def __call__(self, x, *, train: bool, dropout_rate=0.0):
    del train, dropout_rate  # no dropout or batch norm in this net
    kinit = initializers.get(self.kernel_init, 1.0)
    pool_impl = conv_ops.default_impl('pool') if self.pool_impl == 'auto' else self.pool_impl
    for features in (20, 50):
      x = conv_ops.Conv(features, (5, 5), padding='VALID', kernel_init=kinit, impl=self.conv_impl)(x)
      x = conv_ops.max_pool_2x2(x, pool_impl)
    x = x.reshape((x.shape[0], -1))
    x = nn.relu(nn.Dense(500, kernel_init=kinit)(x))
    return nn.Dense(self.num_classes, kernel_init=kinit)(x)
