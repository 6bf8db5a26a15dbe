"""Multi-layer perceptron on flattened inputs."""

from collections.abc import Sequence

import flax.linen as nn

from nets import activations, initializers
from nets.dropout import Dropout


class MLP(nn.Module):
  """Dense layers of `hidden` units, each followed by [batch norm], activation and dropout.

  `hidden=()` is a linear model (logistic regression). `dropout=False` leaves the dropout
  layers out, for nets that never drop (the engine also skips masks when every rate is 0).
  """

  hidden: Sequence[int] = (100,)
  num_classes: int = 10
  activation: str = 'relu'
  kernel_init: str = 'glorot_uniform'
  init_scale: float = 1.0
  batch_norm: bool = False
  dropout: bool = True

  @nn.compact
  def __call__(self, x, *, train: bool, dropout_rate=0.0):
    act = activations.get(self.activation)
    kinit = initializers.get(self.kernel_init, self.init_scale)
    x = x.reshape((x.shape[0], -1))
    for width in self.hidden:
      x = nn.Dense(width, kernel_init=kinit, use_bias=not self.batch_norm)(x)
      if self.batch_norm:
        x = nn.BatchNorm(use_running_average=not train)(x)
      x = act(x)
      if self.dropout:
        x = Dropout()(x, dropout_rate, deterministic=not train)
    return nn.Dense(self.num_classes, kernel_init=kinit)(x)
