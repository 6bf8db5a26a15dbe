"""VGG (Simonyan & Zisserman 2015), configurations A, A-LRN, B, C, D (VGG-16) and E (VGG-19)."""

import flax.linen as nn

from nets.dropout import Dropout
from nets.normalization import LocalResponseNorm
from nets.pooling import Pool

# Table 1 of the paper, one tuple per stage (each stage ends in a 2x2 max-pool). An int is a 3x3
# conv of that width; ('1x1', w) is C's 1x1 conv; 'LRN' is A-LRN's normalization.
CONFIGURATIONS = {
  'A': ((64,), (128,), (256, 256), (512, 512), (512, 512)),
  'A-LRN': ((64, 'LRN'), (128,), (256, 256), (512, 512), (512, 512)),
  'B': ((64, 64), (128, 128), (256, 256), (512, 512), (512, 512)),
  'C': (
    (64, 64),
    (128, 128),
    (256, 256, ('1x1', 256)),
    (512, 512, ('1x1', 512)),
    (512, 512, ('1x1', 512)),
  ),
  'D': ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512)),
  'E': ((64, 64), (128, 128), (256,) * 4, (512,) * 4, (512,) * 4),
}


class VGG(nn.Module):
  """Stride-1 SAME convs + ReLU, five 2x2 max-pools, then FC 4096, FC 4096, FC num_classes.

  Dropout (the rate given at call time; the paper used 0.5) follows the two hidden FC layers.
  224x224x3 input; D has 138,357,544 parameters with 1000 classes. `hidden_layers=0` keeps only
  the last FC layer (Keras' `include_top=False` with one new Dense on top); `width_divisor`
  divides every conv width (tiny VGGs with the real layer names, for tests).
  """

  configuration: str = 'D'
  num_classes: int = 1000
  hidden: int = 4096
  hidden_layers: int = 2
  width_divisor: int = 1

  @nn.compact
  def __call__(self, x, *, train: bool, dropout_rate=0.0):
    if self.configuration not in CONFIGURATIONS:
      raise ValueError(
        f'Unknown VGG configuration {self.configuration!r}; known: {", ".join(CONFIGURATIONS)}.'
      )
    for stage in CONFIGURATIONS[self.configuration]:
      for layer in stage:
        if layer == 'LRN':
          x = LocalResponseNorm()(x)
        elif isinstance(layer, tuple):
          x = nn.relu(nn.Conv(max(1, layer[1] // self.width_divisor), (1, 1))(x))
        else:
          x = nn.relu(nn.Conv(max(1, layer // self.width_divisor), (3, 3), padding='SAME')(x))
      x = Pool('max', (2, 2))(x)
    x = x.reshape((x.shape[0], -1))
    for _ in range(self.hidden_layers):
      x = nn.relu(nn.Dense(self.hidden)(x))
      x = Dropout()(x, dropout_rate, deterministic=not train)
    return nn.Dense(self.num_classes)(x)
