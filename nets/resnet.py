"""ResNet-18 (He et al. 2016) with the ImageNet stem or the CIFAR stem."""

from collections.abc import Sequence

import flax.linen as nn
import jax.numpy as jnp

from nets.pooling import Pool


class BasicBlock(nn.Module):
  """Two 3x3 convs with batch norm; a 1x1 projection shortcut when the shape changes."""

  features: int
  strides: int = 1
  dtype: str = 'float32'
  bn_momentum: float = 0.9

  @nn.compact
  def __call__(self, x, *, train: bool):
    norm = lambda: nn.BatchNorm(not train, momentum=self.bn_momentum, dtype=self.dtype)
    conv = lambda k, **kw: nn.Conv(self.features, k, use_bias=False, dtype=self.dtype, **kw)
    s = (self.strides, self.strides)
    y = nn.relu(norm()(conv((3, 3), strides=s, padding=1)(x)))
    y = norm()(conv((3, 3), padding=1)(y))
    if x.shape != y.shape:
      x = norm()(conv((1, 1), strides=s)(x))
    return nn.relu(x + y)


class ResNet(nn.Module):
  """Stem, four stages of basic blocks (`width` 64: 64, 128, 256, 512; stride 2 from the second),
  global average pool, FC. ResNet-18 is `stage_sizes=(2, 2, 2, 2)`: 11,689,512 parameters for
  ImageNet.

  stem='imagenet': conv 7x7/2 + batch norm + ReLU + max-pool 3x3/2 (224 -> 56);
  stem='cifar': conv 3x3/1 + batch norm + ReLU, no pool (32 -> 32), as for CIFAR-10 in
  the common re-implementations (kuangliu/pytorch-cifar: 11,173,962 parameters for 10 classes).

  dtype='bfloat16' computes in bfloat16 (parameters, batch-norm statistics and the logits stay
  float32): the mixed precision of GPU and TPU training.
  """

  stage_sizes: Sequence[int] = (2, 2, 2, 2)
  num_classes: int = 1000
  stem: str = 'imagenet'
  dtype: str = 'float32'
  width: int = 64  # the first stage's channels; each later stage doubles them
  # running statistics keep this much of their value per step: PyTorch's BatchNorm2d default
  # (its momentum=0.1 is the weight of the new batch), not flax's 0.99
  bn_momentum: float = 0.9

  @nn.compact
  def __call__(self, x, *, train: bool, dropout_rate=0.0):
    del dropout_rate  # no dropout in ResNet
    if self.dtype not in ('float32', 'bfloat16'):
      raise ValueError(f"ResNet dtype must be 'float32' or 'bfloat16', got {self.dtype!r}.")
    norm = lambda: nn.BatchNorm(not train, momentum=self.bn_momentum, dtype=self.dtype)
    x = x.astype(self.dtype)
    if self.stem == 'imagenet':
      x = nn.Conv(self.width, (7, 7), (2, 2), padding=3, use_bias=False, dtype=self.dtype)(x)
      x = nn.relu(norm()(x))
      x = Pool('max', (3, 3), (2, 2), padding=((1, 1), (1, 1)))(x)
    elif self.stem == 'cifar':
      x = nn.Conv(self.width, (3, 3), padding=1, use_bias=False, dtype=self.dtype)(x)
      x = nn.relu(norm()(x))
    else:
      raise ValueError(f"ResNet stem must be 'imagenet' or 'cifar', got {self.stem!r}.")
    for i, blocks in enumerate(self.stage_sizes):
      for b in range(blocks):
        strides = 2 if i > 0 and b == 0 else 1
        block = BasicBlock(self.width * 2**i, strides, self.dtype, self.bn_momentum)
        x = block(x, train=train)
    x = Pool('avg', None)(x).reshape((x.shape[0], -1))
    return nn.Dense(self.num_classes, dtype=self.dtype)(x).astype(jnp.float32)
