"""ResNet-18 (He et al. 2016) with the ImageNet stem or the CIFAR stem."""

from collections.abc import Sequence

import flax.linen as nn

from nets.pooling import Pool


class BasicBlock(nn.Module):
  """Two 3x3 convs with batch norm; a 1x1 projection shortcut when the shape changes."""

  features: int
  strides: int = 1

  @nn.compact
  def __call__(self, x, *, train: bool):
    norm = lambda: nn.BatchNorm(use_running_average=not train)
    s = (self.strides, self.strides)
    y = nn.Conv(self.features, (3, 3), strides=s, padding=1, use_bias=False)(x)
    y = nn.relu(norm()(y))
    y = norm()(nn.Conv(self.features, (3, 3), padding=1, use_bias=False)(y))
    if x.shape != y.shape:
      x = norm()(nn.Conv(self.features, (1, 1), strides=s, use_bias=False)(x))
    return nn.relu(x + y)


class ResNet(nn.Module):
  """Stem, four stages of basic blocks (64, 128, 256, 512; stride 2 from the second), global
  average pool, FC. ResNet-18 is `stage_sizes=(2, 2, 2, 2)`: 11,689,512 parameters for ImageNet.

  stem='imagenet': conv 7x7/2 + batch norm + ReLU + max-pool 3x3/2 (224 -> 56);
  stem='cifar': conv 3x3/1 + batch norm + ReLU, no pool (32 -> 32), as for CIFAR-10 in
  the common re-implementations.
  """

  stage_sizes: Sequence[int] = (2, 2, 2, 2)
  num_classes: int = 1000
  stem: str = 'imagenet'

  @nn.compact
  def __call__(self, x, *, train: bool, dropout_rate=0.0):
    del dropout_rate  # no dropout in ResNet
    if self.stem == 'imagenet':
      x = nn.Conv(64, (7, 7), strides=(2, 2), padding=3, use_bias=False)(x)
      x = nn.relu(nn.BatchNorm(use_running_average=not train)(x))
      x = Pool('max', (3, 3), (2, 2), padding=((1, 1), (1, 1)))(x)
    elif self.stem == 'cifar':
      x = nn.Conv(64, (3, 3), padding=1, use_bias=False)(x)
      x = nn.relu(nn.BatchNorm(use_running_average=not train)(x))
    else:
      raise ValueError(f"ResNet stem must be 'imagenet' or 'cifar', got {self.stem!r}.")
    for i, blocks in enumerate(self.stage_sizes):
      for b in range(blocks):
        x = BasicBlock(64 * 2**i, strides=2 if i > 0 and b == 0 else 1)(x, train=train)
    x = Pool('avg', None)(x).reshape((x.shape[0], -1))
    return nn.Dense(self.num_classes)(x)
