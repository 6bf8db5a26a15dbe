"""Multi-layer perceptron on flattened inputs."""

from collections.abc import Sequence

import flax.linen as nn

from nets import activations, initializers
from nets.dropout import Dropout

OUTPUTS = ('none', 'tanh')
LOSSES = ('softmax_cross_entropy', 'squared_error')


class MLP(nn.Module):
  """Dense layers of `hidden` units, each followed by [batch norm], activation and dropout.

  `hidden=()` is a linear model (logistic regression). `dropout=False` leaves the dropout
  layers out, for nets that never drop (the engine also skips masks when every rate is 0).

  The defaults give logits for a softmax cross-entropy. The TensorFlow Playground's network is
  `num_classes=1, output_activation='tanh', loss='squared_error', kernel_init=
  'playground_uniform', bias_init='playground'`: one tanh unit trained towards -1/+1 with
  0.5 (y - t)^2 and read by its sign (nn.ts, playground.ts). `loss` is read by the engine's steps
  (engine/steps.py), which are built from the model alone, so it is a field of the model.
  """

  hidden: Sequence[int] = (100,)
  num_classes: int = 10
  activation: str = 'relu'
  kernel_init: str = 'glorot_uniform'
  init_scale: float = 1.0
  batch_norm: bool = False
  dropout: bool = True
  bias_init: str = 'zeros'  # or 'playground' (nets/initializers.py)
  output_activation: str = 'none'  # or 'tanh'
  loss: str = 'softmax_cross_entropy'  # or 'squared_error' (engine/steps.py)

  @nn.compact
  def __call__(self, x, *, train: bool, dropout_rate=0.0):
    if self.output_activation not in OUTPUTS:
      raise ValueError(
        f'Unknown output_activation {self.output_activation!r}; known: {", ".join(OUTPUTS)}.'
      )
    act = activations.get(self.activation)
    kinit = initializers.get(self.kernel_init, self.init_scale)
    binit = initializers.bias(self.bias_init, self.kernel_init)
    extra = {} if binit is None else {'bias_init': binit}
    x = x.reshape((x.shape[0], -1))
    for width in self.hidden:
      x = nn.Dense(width, kernel_init=kinit, use_bias=not self.batch_norm, **extra)(x)
      if self.batch_norm:
        x = nn.BatchNorm(use_running_average=not train)(x)
      x = act(x)
      if self.dropout:
        x = Dropout()(x, dropout_rate, deterministic=not train)
    out = nn.Dense(self.num_classes, kernel_init=kinit, **extra)(x)
    return nn.tanh(out) if self.output_activation == 'tanh' else out
