"""AlexNet (Krizhevsky, Sutskever & Hinton 2012), single-tower or the paper's two-GPU version."""

import flax.linen as nn

from nets.dropout import Dropout
from nets.normalization import LocalResponseNorm
from nets.pooling import Pool


class AlexNet(nn.Module):
  """conv 96@11x11/4, LRN, pool; conv 256@5x5, LRN, pool; conv 384, 384, 256 @3x3, pool; FC 4096 x2.

  `towers=2` is the paper's two-GPU net: conv2, conv4 and conv5 see only the maps of their own
  GPU (grouped convolutions, half the weights), conv3 and the FC layers see both. Input 227x227x3
  (the paper's "224" does not give its 55x55 first layer); pools are 3x3 with stride 2
  (overlapping); dropout (the rate given at call time; the paper's 0.5) after FC6 and FC7.
  """

  num_classes: int = 1000
  towers: int = 1

  @nn.compact
  def __call__(self, x, *, train: bool, dropout_rate=0.0):
    g = self.towers
    x = nn.relu(nn.Conv(96, (11, 11), strides=(4, 4), padding='VALID')(x))
    x = Pool('max', (3, 3), (2, 2))(LocalResponseNorm()(x))
    x = nn.relu(nn.Conv(256, (5, 5), padding=2, feature_group_count=g)(x))
    x = Pool('max', (3, 3), (2, 2))(LocalResponseNorm()(x))
    x = nn.relu(nn.Conv(384, (3, 3), padding=1)(x))
    x = nn.relu(nn.Conv(384, (3, 3), padding=1, feature_group_count=g)(x))
    x = nn.relu(nn.Conv(256, (3, 3), padding=1, feature_group_count=g)(x))
    x = Pool('max', (3, 3), (2, 2))(x)
    x = x.reshape((x.shape[0], -1))
    for _ in range(2):
      x = nn.relu(nn.Dense(4096)(x))
      x = Dropout()(x, dropout_rate, deterministic=not train)
    return nn.Dense(self.num_classes)(x)
