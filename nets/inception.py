"""GoogLeNet / Inception v1 (Szegedy et al. 2015): inception modules, naive or dimension-reduced."""

import flax.linen as nn
import jax.numpy as jnp

from nets.dropout import Dropout
from nets.normalization import LocalResponseNorm
from nets.pooling import Pool

# Table 1 of the paper: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj.
MODULES = {
  '3a': (64, 96, 128, 16, 32, 32),
  '3b': (128, 128, 192, 32, 96, 64),
  '4a': (192, 96, 208, 16, 48, 64),
  '4b': (160, 112, 224, 24, 64, 64),
  '4c': (128, 128, 256, 24, 64, 64),
  '4d': (112, 144, 288, 32, 64, 64),
  '4e': (256, 160, 320, 32, 128, 128),
  '5a': (256, 160, 320, 32, 128, 128),
  '5b': (384, 192, 384, 48, 128, 128),
}


def conv_relu(features, size, name=None):
  return nn.Sequential([nn.Conv(features, (size, size), padding='SAME'), nn.relu], name=name)


class Inception(nn.Module):
  """1x1, 3x3, 5x5 convs and a 3x3 max-pool side by side, concatenated along depth.

  reduced=False is the naive module (figure 2a): the convs see the full input depth and the pool
  passes it through, so the output is deeper than the input. reduced=True (figure 2b) puts
  1x1 convs of `c3_reduce`, `c5_reduce` before the 3x3 and 5x5 and a 1x1 `pool_proj` after the pool.
  """

  c1: int
  c3_reduce: int
  c3: int
  c5_reduce: int
  c5: int
  pool_proj: int
  reduced: bool = True

  @nn.compact
  def __call__(self, x):
    r = self.reduced
    b1 = conv_relu(self.c1, 1)(x)
    b3 = conv_relu(self.c3, 3)(conv_relu(self.c3_reduce, 1)(x) if r else x)
    b5 = conv_relu(self.c5, 5)(conv_relu(self.c5_reduce, 1)(x) if r else x)
    bp = Pool('max', (3, 3), (1, 1), padding='SAME')(x)
    if r:
      bp = conv_relu(self.pool_proj, 1)(bp)
    return jnp.concatenate([b1, b3, b5, bp], axis=-1)


class AuxHead(nn.Module):
  """The auxiliary classifier on 4a and 4d: avg-pool 5x5/3, conv 1x1 128, FC 1024, dropout, FC."""

  num_classes: int

  @nn.compact
  def __call__(self, x, *, train: bool, dropout_rate):
    x = Pool('avg', (5, 5), (3, 3))(x)
    x = conv_relu(128, 1)(x).reshape((x.shape[0], -1))
    x = nn.relu(nn.Dense(1024)(x))
    x = Dropout()(x, dropout_rate, deterministic=not train)
    return nn.Dense(self.num_classes)(x)


class GoogLeNet(nn.Module):
  """The 22-layer GoogLeNet of Table 1 on 224x224x3; returns the main classifier's logits.

  With `aux_heads` the two auxiliary classifiers exist (their parameters count) and their logits
  are sown into 'intermediates' ('aux_logits') for a trainer that weights them in (the paper:
  0.3 each). `reduced=False` swaps every module for the naive one. Dropout before the last FC
  takes the rate given at call time (the paper's 0.4; its heads used 0.7).
  """

  num_classes: int = 1000
  aux_heads: bool = False
  reduced: bool = True

  @nn.compact
  def __call__(self, x, *, train: bool, dropout_rate=0.0):
    x = nn.relu(nn.Conv(64, (7, 7), strides=(2, 2), padding='SAME')(x))
    x = LocalResponseNorm()(Pool('max', (3, 3), (2, 2), padding='SAME')(x))
    x = conv_relu(192, 3)(conv_relu(64, 1)(x))
    x = Pool('max', (3, 3), (2, 2), padding='SAME')(LocalResponseNorm()(x))
    for name, filters in MODULES.items():
      if name in ('4a', '5a'):
        x = Pool('max', (3, 3), (2, 2), padding='SAME')(x)
      x = Inception(*filters, reduced=self.reduced, name=f'inception_{name}')(x)
      if self.aux_heads and name in ('4a', '4d'):
        aux = AuxHead(self.num_classes, name=f'aux_{name}')(
          x, train=train, dropout_rate=dropout_rate
        )
        self.sow('intermediates', 'aux_logits', aux)
    x = Pool('avg', (7, 7), (1, 1))(x).reshape((x.shape[0], -1))
    x = Dropout()(x, dropout_rate, deterministic=not train)
    return nn.Dense(self.num_classes)(x)
