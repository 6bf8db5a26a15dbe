"""Architecture arithmetic: the documents' parameter, activation and operation counts, row by row.

Nothing is trained: every count comes from the real linen modules in nets/ (VGG A-E, AlexNet,
GoogLeNet and its inception modules, ResNet-18, LeNet-5, plain conv stacks), traced with
`jax.eval_shape` (nothing allocated, so VGG's 138M parameters cost nothing), layer by layer
(nets/summary.py). The claims are the documents' own answers:

- 002 3B-3C: a 5x5 conv with 8 filters on 32x32x3 (608 parameters, a 28x28x8 output).
- 002 3D-3F: 2x2 average (3D) and max (3E) pooling, stride 2, of the question's four images, and
  the answer's claim (3F) that pooling makes a feature's location matter less than its existence
  and that a missing pixel is accounted for by the pixels around it. The question's images are
  not in the document's text, only the answers. They are reconstructed: the images are taken
  to be 4x4 with pixels 0 or 1, one pattern and copies of it moved within the frame (the
  question is about translation; 3F speaks of "locations"). Searching all 2^16 binary images
  and every shift, exactly one pattern fits answer 3D: a 3x3 block of ones in the top-left
  corner, and its copies moved right (0, 1), down-right (1, 1) and down (1, 0), in the
  answer's order. So 3D holds by construction (it shows the answer is consistent); 3E and 3F
  are then measured on those images. 3F is tested for both kinds of pooling, since the answer
  says "pooling" and the question points at both: a shift (the four copies pool to one output)
  and a missing pixel (each lit pixel set to 0 in turn; the pooled output is unchanged).
- 003 P10: the document's VGG-16 table (the question: activations and parameters per layer
  "without counting biases") compared row by row with the counted layer; its inception-module
  output sizes and operation counts (input 32x32x256) branch by branch.
- 003 P12: the answer's five stacks claimed to have a 7x7 receptive field and an HxWxC output,
  their parameters and computations (depth 1, one filter, a 15x15 input, as the answer assumes).
- 000 Q5: the parameters of VGG column D, which has 1000 classes; the answer's Keras summary
  is a VGG-16 with a 2-class head.
- 004 Q1.5: the answer's AlexNet layers and total, the VGG A-E totals in millions, GoogLeNet's
  per-stage figures (the paper's Table 1) and their total.

A document figure given rounded ("3.2M", "~6.8M", "1.11 Billion") agrees when the count rounded
to the significant figures written equals it (trailing zeros of an integer are not significant:
"800K" is 8e5); an exact figure must be equal. A wrong figure is DOCUMENT WRONG with the count
as the correct value. The published figures the modules are checked against (papers, Keras,
torchvision) are the project's own checks (id `own`), reported in the Measured table.

Conventions: multiply-adds ("computations", "operations") count kernel weights once per output
position (biases, activations and pools excluded); "connections" (LeCun et al. 1998) add one
bias input per output unit; activations sum the outputs of the convs, pools and FC layers.
"""

import itertools
import math
import os
from typing import NamedTuple

import flax.linen as nn
import jax.numpy as jnp
import ml_collections
import numpy as np

import nets
from engine import files, report
from engine import verdict as v
from nets import summary
from nets.inception import Inception
from nets.pooling import Pool

NAME = 'architectures'
VARIANTS = ('quick',)

# ---- What the documents say, verbatim where short. ----

# 002 3D (average pooling) and 3E (max pooling): the four 2x2 answers, in the document's order.
DOC_002_3D = (
  ((1, 0.5), (0.5, 0.25)),
  ((0.5, 1), (0.25, 0.5)),
  ((0.25, 0.5), (0.5, 1)),
  ((0.5, 0.25), (1, 0.5)),
)
DOC_002_3E = (((1, 1), (1, 1)),) * 4
DOC_002_3B_PARAMS = 608
DOC_002_3C_OUTPUT = '28x28x8'

# 003 P10.1: the document's VGG-16 table: (layer, output shape, activations as written,
# parameter formula as written, its parameter figure).
DOC_003_P10_VGG = (
  ('Input', (224, 224, 3), '150K', '0', 0),
  ('CONV3-64', (224, 224, 64), '3.2M', '(3 3 3)*64', 1_792),
  ('CONV3-64', (224, 224, 64), '3.2M', '(3 3 64)*64', 36_928),
  ('POOL2', (112, 112, 64), '800K', '0', 0),
  ('CONV3-128', (112, 112, 128), '1.6M', '(3 3 64)*128', 73_856),
  ('CONV3-128', (112, 112, 128), '1.6M', '(3 3 128)*128', 147_584),
  ('POOL2', (56, 56, 128), '400K', '0', 0),
  ('CONV3-256', (56, 56, 256), '800K', '(3 3 128)*256', 295_168),
  ('CONV3-256', (56, 56, 256), '800K', '(3 3 256)*256', 590_080),
  ('CONV3-256', (56, 56, 256), '800K', '(3 3 256)*256', 590_080),
  ('POOL2', (28, 28, 256), '200K', '0', 0),
  ('CONV3-512', (28, 28, 512), '400K', '(3 3 256)*512', 1_180_160),
  ('CONV3-512', (28, 28, 512), '400K', '(3 3 512)*512', 2_359_808),
  ('CONV3-512', (28, 28, 512), '400K', '(3 3 512)*512', 2_359_808),
  ('POOL2', (14, 14, 512), '100K', '0', 0),
  ('CONV3-512', (14, 14, 512), '100K', '(3 3 512)*512', 2_359_808),
  ('CONV3-512', (14, 14, 512), '100K', '(3 3 512)*512', 2_359_808),
  ('CONV3-512', (14, 14, 512), '100K', '(3 3 512)*512', 2_359_808),
  ('POOL2', (7, 7, 512), '25K', '0', 0),
  ('FC', (4096,), '4096', '7 7 512* 4096', 102_764_544),
  ('FC', (4096,), '4096', '4096 *4096', 16_777_216),
  ('FC', (1000,), '1000', '4096 *1000', 4_097_000),
)
DOC_003_P10_VGG_TOTAL = 138_357_544

# 003 P10.2: the inception modules on 32x32x256 (the filters are the config's inception_module):
# output after concatenation, and per branch the operations; the totals as written.
DOC_003_P10_INCEPTION = {
  'naive': {
    'output': '32x32x672',
    'branches': (
      ('1x1 conv, 128', 33_554_432),
      ('3x3 conv, 192', 452_884_832),
      ('5x5 conv, 96', 629_145_600),
      ('3x3 max pool', 0),
    ),
    'total': '1.11B',
  },
  'reduced': {
    'output': '32x32x480',
    'branches': (
      ('1x1 conv, 128', 33_554_432),
      ('1x1 conv, 64 + 3x3 conv, 192', 130_023_424),
      ('1x1 conv, 64 + 5x5 conv, 96', 174_063_616),
      ('3x3 max pool + 1x1 conv, 64', 4_194_304),
    ),
    'total': 341_835_776,
  },
}

# 003 P12: kernel sizes, per-layer parameters and total, per-layer computations and total (the
# fifth total is not in the text), and the architectures it names largest and smallest in cost.
DOC_003_P12 = (
  ((2, 6), (5, 37), 42, (900, 8_100), 9_000),
  ((2, 5, 2), (5, 26, 5), 36, (900, 5_625, 900), 7_425),
  ((2, 6, 1), (5, 37, 2), 44, (900, 8_100, 225), 9_225),
  ((1, 2, 3, 4), (2, 5, 10, 17), 34, (225, 900, 2_025, 3_600), 6_750),
  ((2, 3, 3, 2, 1), (5, 10, 10, 5, 2), 32, (900, 2_025, 2_025, 900, 225), None),
)
DOC_003_P12_LARGEST, DOC_003_P12_SMALLEST = 3, 5

# 000 Q5: its Keras summary's parameter column (conv2d ... dense_2) and total.
DOC_000_Q5_LAYERS = (
  1_792,
  36_928,
  73_856,
  147_584,
  295_168,
  590_080,
  590_080,
  1_180_160,
  2_359_808,
  2_359_808,
  2_359_808,
  2_359_808,
  2_359_808,
  102_764_544,
  16_781_312,
  8_194,
)
DOC_000_Q5_TOTAL = 134_268_738

# 004 Q1.5: (a) AlexNet L1-L8 and total; (b) VGG totals in millions; (c) GoogLeNet per stage as
# quoted from the paper's Table 1, and the total.
DOC_004_Q15_ALEXNET = (34_944, 614_656, 885_120, 1_327_488, 884_992, 37_752_832, 16_781_312)
DOC_004_Q15_ALEXNET += (4_097_000,)
DOC_004_Q15_ALEXNET_TOTAL = 62_378_344
DOC_004_Q15_VGG = {'A': '133M', 'A-LRN': '133M', 'B': '133M', 'C': '134M', 'D': '138M'}
DOC_004_Q15_VGG['E'] = '144M'
DOC_004_Q15_GOOGLENET = (
  ('conv1', '2.7K'),
  ('conv2', '112K'),
  ('3a', '159K'),
  ('3b', '380K'),
  ('4a', '364K'),
  ('4b', '437K'),
  ('4c', '463K'),
  ('4d', '580K'),
  ('4e', '840K'),
  ('5a', '1072K'),
  ('5b', '1388K'),
  ('linear', '1000K'),
)
DOC_004_Q15_GOOGLENET_TOTAL = '6.8M'

# ---- Published figures: the project's own checks of the modules. ----

# key -> (reference, how it is compared, source). 'exact': equal; 'millions': equal after rounding
# the count to millions; 'about': within config.verdict.about (relative); 'note': shown beside
# the count, not a check.
REFERENCES = {
  'vgg_A.params': (133, 'millions', 'VGG paper, Table 2'),
  'vgg_A-LRN.params': (133, 'millions', 'VGG paper, Table 2'),
  'vgg_B.params': (133, 'millions', 'VGG paper, Table 2'),
  'vgg_C.params': (134, 'millions', 'VGG paper, Table 2'),
  'vgg_D.params': (138_357_544, 'exact', 'Keras VGG16 summary (paper: 138M)'),
  'vgg_E.params': (143_667_240, 'exact', 'Keras VGG19 summary (paper: 144M)'),
  'vgg_D.activations': (24_000_000, 'note', 'CS231n notes\' VGG-16 walk-through: "24M"'),
  'vgg_D.rf': (212, 'exact', 'Araujo et al. 2019 (Distill), VGG-16 pool5'),
  'alexnet_towers2.params': (60_000_000, 'about', 'AlexNet paper: "60 million parameters"'),
  'alexnet_towers2.neurons': (650_000, 'about', 'AlexNet paper: "650,000 neurons"'),
  'alexnet_towers1.params': (62_378_344, 'exact', 'the usual single-tower count'),
  'alexnet_towers1.rf': (195, 'exact', 'Araujo et al. 2019 (Distill), AlexNet pool5'),
  'googlenet.params': (6_800_000, 'about', 'GoogLeNet paper, Table 1 (about 6.8M)'),
  'googlenet.macs': (1_500_000_000, 'note', 'GoogLeNet paper: "1.5 billion multiply-adds"'),
  'resnet18.params': (11_689_512, 'exact', 'torchvision resnet18'),
  'resnet18.macs': (1_800_000_000, 'about', 'ResNet paper, Table 1: 1.8 x 10^9 FLOPs'),
  'resnet18_cifar.params': (11_173_962, 'exact', 'the common CIFAR ResNet-18 (kuangliu)'),
  'lenet5.C1.params': (156, 'exact', 'LeNet-5 paper'),
  'lenet5.C1.connections': (122_304, 'exact', 'LeNet-5 paper'),
  'lenet5.S2.params': (12, 'exact', 'LeNet-5 paper'),
  'lenet5.S2.connections': (5_880, 'exact', 'LeNet-5 paper'),
  'lenet5.C3.params': (1_516, 'exact', 'LeNet-5 paper'),
  'lenet5.C3.connections': (151_600, 'exact', 'LeNet-5 paper'),
  'lenet5.S4.params': (32, 'exact', 'LeNet-5 paper'),
  'lenet5.C5.params': (48_120, 'exact', 'LeNet-5 paper'),
  'lenet5.F6.params': (10_164, 'exact', 'LeNet-5 paper'),
  'lenet5.params_to_F6': (60_000, 'exact', 'LeNet-5 paper: "60,000 trainable parameters"'),
  'lenet5.connections': (340_908, 'note', 'LeNet-5 paper: 340,908 connections'),
  'stack_3x3x3.rf': (7, 'exact', 'VGG paper: three 3x3 layers see 7x7'),
  'stack_3x3x2.rf': (5, 'exact', 'VGG paper: two 3x3 layers see 5x5'),
  'stack_7x7.rf': (7, 'exact', 'one 7x7 layer'),
  'stack.extra_weights_7x7': (0.81, 'about', 'VGG paper: 49C^2 vs 27C^2, "81% more"'),
}
NOTES = {
  'vgg_D.activations': "the notes' own rows add up to {count:,}; their total is not the sum",
  'lenet5.connections': 'the output here is a dense layer with 10 biases; the RBF output has none',
  'googlenet.macs': 'the paper states a budget, not a count; its Table 1 layers count {count:,}',
}
TOPICS = (
  ('VGG', 'vgg_'),
  ('AlexNet', 'alexnet'),
  ('GoogLeNet', 'googlenet'),
  ('ResNet-18', 'resnet18'),
  ('LeNet-5', 'lenet5'),
  ('receptive fields', 'stack'),
  ('closed-form arithmetic', ''),
)


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
  del variant  # counting takes seconds; the quick variant is the full one
  c = ml_collections.ConfigDict()
  c.imagenet_input = (224, 224, 3)
  c.alexnet_input = (227, 227, 3)
  c.cifar_input = (32, 32, 3)
  c.mnist_input = (28, 28, 1)
  c.imagenet_classes = 1000
  c.cifar_classes = 10
  c.head_classes = 2  # the 2-class head of 000 Q5's answer
  c.conv_example = ml_collections.ConfigDict(dict(input=(32, 32, 3), filters=8, kernel=5))
  c.inception_module = ml_collections.ConfigDict(
    dict(input=(32, 32, 256), c1=128, c3_reduce=64, c3=192, c5_reduce=64, c5=96, pool_proj=64)
  )
  # 003 P12: "assuming that the input are of depth 1 and the conv layers have 1 filter", "with an
  # input of size 15 x 15 x 1"; the receptive field the question asks for.
  c.p12 = ml_collections.ConfigDict(dict(input=(15, 15, 1), channels=1, receptive_field=7))
  c.stacks = ml_collections.ConfigDict(dict(channels=64, input=(56, 56)))
  # 002 3D-3F: the reconstruction's search space (4x4 images, pixels 0 or 1) and the pooling.
  c.pooling = ml_collections.ConfigDict(dict(size=4, window=2, pixels=(0, 1)))
  c.verdict = ml_collections.ConfigDict(
    dict(
      # Own checks only: published figures rounded by their sources ("60 million", "1.8 x 10^9").
      about=0.05,
      # 002 3F: "a missing pixel ... accounted for by the pixels surrounding them" is a claim
      # about the typical pixel, so it holds when the output is unchanged for at least half of
      # the single-pixel deletions. Counting is exact: no noise to allow for.
      missing_pixel_min_unchanged=0.5,
    )
  )
  return c


class ConvStack(nn.Module):
  """SAME convs of `channels` with the given kernel sizes: the stacks whose receptive fields and
  costs the VGG paper and 003 P12 compare."""

  kernels: tuple
  channels: int

  @nn.compact
  def __call__(self, x):
    for k in self.kernels:
      x = nn.Conv(self.channels, (k, k), padding='SAME')(x)
    return x


def _net(name, input_shape, **fields):
  return summary.layers(nets.build(name, **fields), tuple(input_shape))


# ---- 002 3D-3F: the question's images and their pooling. ----


class Reconstruction(NamedTuple):
  image: np.ndarray  # the first image (size x size)
  shifts: tuple  # (dy, dx) of every image relative to the first, the first's (0, 0) included


def shift(image, dy, dx):
  """The image moved down dy and right dx pixels; None when a nonzero pixel would leave it."""
  h, w = image.shape
  ys, xs = np.nonzero(image)
  inside = (0 <= ys + dy) & (ys + dy < h) & (0 <= xs + dx) & (xs + dx < w)
  if not inside.all():
    return None
  out = np.zeros_like(image)
  out[ys + dy, xs + dx] = image[ys, xs]
  return out


def _avg_pool_np(images, window):
  n, h, w = images.shape
  return images.reshape(n, h // window, window, w // window, window).mean(axis=(2, 4))


def reconstruct(answers, *, size, window, values) -> list[Reconstruction]:
  """Every image whose average pooling is answers[0] and whose copies, moved within the frame,
  average-pool to answers[1:] in order: the question's images, as far as the answers fix them."""
  answers = np.asarray(answers, np.float64)
  images = np.asarray(list(itertools.product(values, repeat=size * size)), np.float64)
  images = images.reshape(-1, size, size)
  pooled = _avg_pool_np(images, window)
  moves = [(dy, dx) for dy in range(1 - size, size) for dx in range(1 - size, size)]
  found = []
  for image in images[np.all(pooled == answers[0], axis=(1, 2))]:
    options = []
    for answer in answers[1:]:
      fits = []
      for dy, dx in moves:
        moved = shift(image, dy, dx)
        if moved is not None and np.array_equal(_avg_pool_np(moved[None], window)[0], answer):
          fits.append((dy, dx))
      options.append(fits)
    for combo in itertools.product(*options):
      found.append(Reconstruction(image, ((0, 0), *combo)))
  return found


def _pool(kind, images, window):
  """The framework's pooling (nets.pooling.Pool) of a batch of single-channel images."""
  x = jnp.asarray(np.asarray(images, np.float32))[..., None]
  return np.asarray(Pool(kind, (window, window)).apply({}, x))[..., 0]


def pooling(config):
  """The reconstructed images, their 2x2 average and max pooling, and every single-pixel
  deletion (a lit pixel set to 0) with whether each kind of pooling still gives the same output."""
  p = config.pooling
  found = reconstruct(DOC_002_3D, size=p.size, window=p.window, values=tuple(p.pixels))
  out = {'solutions': len(found), 'copies': [], 'deletions': {}}
  if len(found) != 1:
    return out
  image, shifts = found[0]
  copies = np.stack([shift(image, dy, dx) for dy, dx in shifts])
  pooled = {kind: _pool(kind, copies, p.window) for kind in ('avg', 'max')}
  out['image'] = image.tolist()
  out['copies'] = [
    {
      'shift': list(s),
      'image': copies[i].tolist(),
      'avg': pooled['avg'][i].tolist(),
      'max': pooled['max'][i].tolist(),
    }
    for i, s in enumerate(shifts)
  ]
  deleted, which = [], []
  for i, c in enumerate(copies):
    for y, x in zip(*np.nonzero(c)):
      d = c.copy()
      d[y, x] = 0
      deleted.append(d)
      which.append(i)
  for kind in ('avg', 'max'):
    after = _pool(kind, np.stack(deleted), p.window)
    same = [bool(np.array_equal(a, pooled[kind][i])) for a, i in zip(after, which)]
    out['deletions'][kind] = {'unchanged': int(sum(same)), 'total': len(same)}
  return out


# ---- Counting. ----


def _layer_rows(table):
  return [
    {
      'layer': r.path,
      'kind': r.kind,
      'output': 'x'.join(map(str, r.output_shape)),
      'activations': r.activations,
      'params': r.params,
      'weights': r.params - r.biases,
      'macs': r.macs,
      'connections': r.connections,
    }
    for r in table
  ]


def _googlenet_stage(path):
  """The row of the paper's Table 1 a GoogLeNet layer belongs to."""
  if path.startswith('inception_'):
    return path.split('/')[0].removeprefix('inception_')
  return {'Conv_0': 'conv1', 'Conv_1': 'conv2', 'Conv_2': 'conv2', 'Dense_0': 'linear'}.get(path)


def _inception_branches(table, reduced, im):
  """The module's layers in call order, split into its four branches (1x1, 3x3, 5x5, pool)."""
  sizes = (1, 2, 2, 2) if reduced else (1, 1, 1, 1)
  depth = im.input[-1]
  ends = (im.c1, im.c3, im.c5, im.pool_proj if reduced else depth)
  branches, start = [], 0
  for size, channels in zip(sizes, ends):
    branch = table[start : start + size]
    if branch[-1].output_shape[-1] != channels:
      raise AssertionError('the inception module no longer calls its branches in order')
    branches.append(branch)
    start += size
  return branches


def measure(config, workdir):
  del workdir
  c = config
  tables = {}
  counts = {}

  def add(key, table):
    tables[key] = table
    t = summary.totals(table)
    counts.update({f'{key}.{k}': val for k, val in t.items()})
    return table

  for conf in ('A', 'A-LRN', 'B', 'C', 'D', 'E'):
    add(
      f'vgg_{conf}',
      _net('vgg', c.imagenet_input, configuration=conf, num_classes=c.imagenet_classes),
    )
  add('vgg_D_head', _net('vgg', c.imagenet_input, num_classes=c.head_classes))
  d = tables['vgg_D']
  counts['vgg_D.activations'] += math.prod(c.imagenet_input)
  counts['vgg_D.weights'] = sum(r.params - r.biases for r in d)
  counts['vgg_D.rf'] = summary.receptive_fields(summary.stack_of(d))[-1][0]
  for towers in (1, 2):
    t = add(
      f'alexnet_towers{towers}',
      _net('alexnet', c.alexnet_input, towers=towers, num_classes=c.imagenet_classes),
    )
    counts[f'alexnet_towers{towers}.neurons'] = sum(
      r.activations for r in t if r.kind in ('conv', 'dense')
    )
    counts[f'alexnet_towers{towers}.rf'] = summary.receptive_fields(summary.stack_of(t))[-1][0]
  g = add('googlenet', _net('googlenet', c.imagenet_input, num_classes=c.imagenet_classes))
  for r in g:
    stage = _googlenet_stage(r.path)
    if stage:
      key = f'googlenet.stage.{stage}.params'
      counts[key] = counts.get(key, 0) + r.params
  add(
    'googlenet_aux',
    _net('googlenet', c.imagenet_input, num_classes=c.imagenet_classes, aux_heads=True),
  )
  add('resnet18', _net('resnet18', c.imagenet_input, num_classes=c.imagenet_classes))
  add('resnet18_cifar', _net('resnet18', c.cifar_input, num_classes=c.cifar_classes, stem='cifar'))
  lenet = add('lenet5', _net('lenet5', c.mnist_input, num_classes=10))
  for r in lenet:
    counts[f'lenet5.{r.path}.params'] = r.params
    counts[f'lenet5.{r.path}.connections'] = r.connections
  counts['lenet5.params_to_F6'] = sum(r.params for r in lenet if r.path != 'output')

  ce = c.conv_example
  conv = add(
    'conv5x5x8',
    summary.layers(
      nn.Conv(ce.filters, (ce.kernel, ce.kernel), padding='VALID'), tuple(ce.input), train=None
    ),
  )
  counts['conv5x5x8.output'] = 'x'.join(map(str, conv[0].output_shape))
  im = c.inception_module
  for reduced in (False, True):
    key = 'inception_reduced' if reduced else 'inception_naive'
    module = Inception(
      im.c1, im.c3_reduce, im.c3, im.c5_reduce, im.c5, im.pool_proj, reduced=reduced
    )
    t = add(key, summary.layers(module, tuple(im.input), train=None))
    counts[f'{key}.output'] = 'x'.join(
      map(str, summary.output_shape(module, tuple(im.input), train=None))
    )
    for i, branch in enumerate(_inception_branches(t, reduced, im)):
      counts[f'{key}.branch{i}.macs'] = sum(r.macs for r in branch)
  for i, (kernels, *_) in enumerate(DOC_003_P12, 1):
    key = f'p12_arch{i}'
    stack = ConvStack(tuple(kernels), c.p12.channels)
    t = add(key, summary.layers(stack, tuple(c.p12.input), train=None))
    counts[f'{key}.rf'] = summary.receptive_fields(summary.stack_of(t))[-1][0]
    counts[f'{key}.output'] = 'x'.join(map(str, t[-1].output_shape))
  for key, kernels in (('stack_3x3x3', (3, 3, 3)), ('stack_3x3x2', (3, 3)), ('stack_7x7', (7,))):
    t = add(
      key,
      summary.layers(
        ConvStack(kernels, c.stacks.channels), (*c.stacks.input, c.stacks.channels), train=None
      ),
    )
    counts[f'{key}.rf'] = summary.receptive_fields(summary.stack_of(t))[-1][0]
    counts[f'{key}.weights'] = sum(r.params - r.biases for r in t)
  counts['stack.extra_weights_7x7'] = (
    counts['stack_7x7.weights'] / counts['stack_3x3x3.weights'] - 1
  )
  return {
    'seeds': 1,
    'records': [],
    'train_seconds': 0.0,
    'dataset': {
      'name': 'none',
      'source': 'no data',
      'standin': False,
      'describe': 'none: every number is counted from the modules with jax.eval_shape',
    },
    'counts': counts,
    'layers': {k: _layer_rows(t) for k, t in tables.items()},
    'pooling': pooling(config),
  }


# ---- Comparing. ----


def _n(x):
  return f'{x:,}' if isinstance(x, int) else f'{x:g}' if isinstance(x, float) else str(x)


def _mat(m):
  return '[' + ', '.join('[' + ', '.join(f'{float(a):g}' for a in row) + ']' for row in m) + ']'


def _shape(s):
  return 'x'.join(map(str, s))


def figure(text) -> tuple[float, int]:
  """A figure as written ('3.2M', '800K', '1.11B', '4096') -> (value, significant figures).

  Trailing zeros of a number without a decimal point are not significant ('800K': one figure).
  """
  scale = {'K': 1e3, 'M': 1e6, 'B': 1e9}.get(text[-1], 1)
  digits = text.rstrip('KMB')
  sig = digits.replace('.', '').lstrip('0')
  if '.' not in digits:
    sig = sig.rstrip('0')
  return float(digits) * scale, max(1, len(sig))


def round_sig(x, sig) -> float:
  if x == 0:
    return 0.0
  return round(float(x), sig - 1 - math.floor(math.log10(abs(x))))


def agrees_as_written(count, text) -> bool:
  """The count, rounded to the significant figures the document wrote, is its figure."""
  value, sig = figure(text)
  return math.isclose(round_sig(count, sig), value, rel_tol=1e-9)


def as_written(count, text) -> str:
  """The count written the way the document wrote `text` ('6.8M' -> '7.0M' for 6,998,552)."""
  value, sig = figure(text)
  unit = text[-1] if text[-1] in 'KMB' else ''
  scale = value / float(text.rstrip('KMB'))
  r = round_sig(count, sig) / scale
  decimals = max(0, sig - 1 - math.floor(math.log10(abs(r)))) if r else 0
  return f'{r:.{decimals}f}{unit}'.replace('B', ' billion')


def _wrong(id, claim, *, document, measured, threshold, ok, correct):
  """A row on a number the document gives: HOLDS, or DOCUMENT WRONG with the correct value."""
  return v.test(
    id,
    claim,
    document=document,
    measured=measured,
    threshold=threshold,
    passed=ok,
    primary=False,
    from_training=False,
    wrong_if_fails=True,
    correct=correct,
  )


def _claim(id, claim, *, document, measured, threshold, ok, value=None):
  """A row on a claim the document makes (not a number): HOLDS or DOES NOT HOLD; primary."""
  return v.test(
    id,
    claim,
    document=document,
    measured=measured,
    threshold=threshold,
    passed=ok,
    value=value,
    from_training=False,
  )


def _inconclusive(id, claim, document, why):
  return v.test(
    id,
    claim,
    document=document,
    measured=why,
    threshold='-',
    passed=None,
    from_training=False,
  )


POOL_NAMES = {'max': 'max', 'avg': 'average'}
ANSWER_3F_SHIFT = (
  'pooling makes it such that the location of features is less important than their existence'
)
ANSWER_3F_MISSING = (
  'a missing pixel ... accounted for by the pixels surrounding them in their region'
)


def _3f_claims():
  """(kind, aspect, claim) of the 3F rows: for each pooling, a shift and a missing pixel."""
  shift = (
    '{} pooling makes location matter less than existence: the four shifted copies pool to one '
    'and the same output'
  )
  missing = (
    '{} pooling: a missing pixel is accounted for by the pixels around it in its window (the '
    'output is unchanged)'
  )
  return [
    (kind, aspect, text.format(POOL_NAMES[kind]))
    for aspect, text in (('shift', shift), ('missing', missing))
    for kind in ('max', 'avg')
  ]


def pooling_rows(results) -> list[v.Claim]:
  """002 3D, 3E on the reconstructed images; 3F for max and average pooling."""
  cfg = ml_collections.ConfigDict(results['config'])
  pool = results['pooling']
  docs = {
    '002 3D': ('2x2 average pooling, stride 2, of the four images', DOC_002_3D, 'avg'),
    '002 3E': ('2x2 max pooling, stride 2, of the four images', DOC_002_3E, 'max'),
  }
  answers = {'shift': ANSWER_3F_SHIFT, 'missing': ANSWER_3F_MISSING}
  if pool['solutions'] != 1:
    why = f'{pool["solutions"]} reconstructions of the images fit the answer; need exactly 1'
    rows = [_inconclusive(i, text, _mats(d), why) for i, (text, d, _) in docs.items()]
    rows += [_inconclusive('002 3F', t, answers[a], why) for _, a, t in _3f_claims()]
    return rows
  copies = pool['copies']
  moves = ', '.join(str(tuple(c['shift'])) for c in copies[1:])
  where = f'images reconstructed from 3D: {_mat(pool["image"])} moved by {moves}'
  rows = []
  for id, (text, doc, kind) in docs.items():
    got = [c[kind] for c in copies]
    ok = all(np.array_equal(np.asarray(g), np.asarray(d)) for g, d in zip(got, doc))
    note = ' (the images were reconstructed from this answer)' if id == '002 3D' else ''
    rows.append(
      _wrong(
        id,
        text + note,
        document=_mats(doc),
        measured=f'{_mats(got)}; {where}',
        threshold='equal, matrix by matrix (nets.pooling.Pool)',
        ok=ok,
        correct=_mats(got),
      )
    )
  least = cfg.verdict.missing_pixel_min_unchanged
  for kind, aspect, text in _3f_claims():
    name = POOL_NAMES[kind]
    if aspect == 'shift':
      outs = {_mat(c[kind]) for c in copies}
      measured = f'{len(outs)} distinct output(s) for {len(copies)} copies: ' + _mats(
        c[kind] for c in copies
      )
      ok, value, test = len(outs) == 1, len(outs), 'exactly 1 distinct output'
    else:
      d = pool['deletions'][kind]
      value = d['unchanged'] / d['total']
      measured = (
        f'{name}-pooled output unchanged for {d["unchanged"]} of {d["total"]} single-pixel '
        'deletions (each lit pixel of each image set to 0)'
      )
      ok, test = value >= least, f'unchanged for >= {least:.0%} of the deletions'
    rows.append(
      _claim(
        '002 3F',
        text,
        document=answers[aspect],
        measured=measured,
        threshold=test,
        ok=ok,
        value=value,
      )
    )
  return rows


def _mats(ms):
  return ', '.join(_mat(m) for m in ms)


def conv_example_rows(results) -> list[v.Claim]:
  counts = results['counts']
  ce = results['config']['conv_example']
  setup = f'{ce["kernel"]}x{ce["kernel"]} conv, {ce["filters"]} filters, on {_shape(ce["input"])}'
  params, out = counts['conv5x5x8.params'], counts['conv5x5x8.output']
  return [
    _wrong(
      '002 3B',
      f'parameters of a {setup}',
      document=f'8 filters * 5 * 5 * 3 + 8 biases = {DOC_002_3B_PARAMS}',
      measured=_n(params),
      threshold='equal',
      ok=params == DOC_002_3B_PARAMS,
      correct=_n(params),
    ),
    _wrong(
      '002 3C',
      f'output shape of the {setup} (no padding, stride 1)',
      document=DOC_002_3C_OUTPUT,
      measured=out,
      threshold='equal',
      ok=out == DOC_002_3C_OUTPUT,
      correct=out,
    ),
  ]


def vgg_table_rows(results) -> list[v.Claim]:
  """003 P10.1: the document's VGG-16 table row by row, against the counted vgg_D layers."""
  layers = [r for r in results['layers']['vgg_D'] if r['kind'] != 'other']
  shape = results['config']['imagenet_input']
  layers = [{'layer': 'input', 'output': _shape(shape), 'activations': math.prod(shape)}] + layers
  test = (
    'output shape equal; activations equal at the significant figures written; parameters == '
    'weights without biases (the question: "without counting biases")'
  )
  rows = []
  if len(layers) != len(DOC_003_P10_VGG):
    rows.append(
      _inconclusive(
        '003 P10.1',
        'VGG-16 table: one row per layer',
        f'{len(DOC_003_P10_VGG)} rows',
        f'the module has {len(layers)} layers',
      )
    )
    return rows
  for i, ((name, doc_shape, acts, formula, doc_params), r) in enumerate(
    zip(DOC_003_P10_VGG, layers)
  ):
    weights, params = r.get('weights', 0), r.get('params', 0)
    shape_ok = r['output'] == _shape(doc_shape)
    acts_ok = agrees_as_written(r['activations'], acts)
    params_ok = weights == doc_params
    wrong = []
    if not shape_ok or not acts_ok:
      wrong.append(f'{r["output"]} = {r["activations"]:,} activations')
    if not params_ok:
      why = ' (its figure counts the biases)' if doc_params == params and params != weights else ''
      wrong.append(f'{weights:,} parameters without biases{why}')
    bias = f' ({params:,} with biases)' if params != weights else ''
    rows.append(
      _wrong(
        '003 P10.1',
        f'VGG-16 row {i}: {name} ({r["layer"]})',
        document=(acts if len(doc_shape) == 1 else f'{" ".join(map(str, doc_shape))} = {acts}')
        + ('; 0' if formula == '0' else f'; {formula} = {doc_params:,}'),
        measured=f'{r["output"]} = {r["activations"]:,}; {weights:,} weights{bias}',
        threshold=test,
        ok=shape_ok and acts_ok and params_ok,
        correct='; '.join(wrong),
      )
    )
  weights = sum(r.get('weights', 0) for r in layers)
  params = sum(r.get('params', 0) for r in layers)
  own_sum = sum(row[-1] for row in DOC_003_P10_VGG)
  rows.append(
    _wrong(
      '003 P10.1',
      'VGG-16 total parameters, without biases',
      document=f'{DOC_003_P10_VGG_TOTAL:,}',
      measured=f"{weights:,} weights ({params:,} with biases); the document's rows add up "
      f'to {own_sum:,}',
      threshold='equal to the weights without biases',
      ok=weights == DOC_003_P10_VGG_TOTAL,
      correct=f'{weights:,}'
      + (' (its figure is the total with biases)' if params == DOC_003_P10_VGG_TOTAL else ''),
    )
  )
  return rows


def inception_rows(results) -> list[v.Claim]:
  """003 P10.2: output sizes (a) and operations branch by branch (b), naive and reduced."""
  counts = results['counts']
  im = results['config']['inception_module']
  rows = []
  for key, doc in DOC_003_P10_INCEPTION.items():
    module = f'inception_{key}'
    label = {'naive': 'naive', 'reduced': 'dimension-reduction'}[key]
    out = counts[f'{module}.output']
    rows.append(
      _wrong(
        '003 P10.2a',
        f'{label} inception module on {_shape(im["input"])}: output after concatenation',
        document=doc['output'],
        measured=out,
        threshold='equal',
        ok=out == doc['output'],
        correct=out,
      )
    )
    for i, (branch, doc_ops) in enumerate(doc['branches']):
      ops = counts[f'{module}.branch{i}.macs']
      rows.append(
        _wrong(
          '003 P10.2b',
          f'{label} module, branch {branch}: operations',
          document=f'{doc_ops:,}',
          measured=f'{ops:,}',
          threshold='equal (multiply-adds)',
          ok=ops == doc_ops,
          correct=f'{ops:,}',
        )
      )
    total = counts[f'{module}.macs']
    written = doc['total']
    exact = isinstance(written, int)
    ok = total == written if exact else agrees_as_written(total, written)
    fig = '' if exact else f' ({as_written(total, written)})'
    rows.append(
      _wrong(
        '003 P10.2b',
        f'{label} module: total operations',
        document=_n(written) if exact else written.replace('B', ' billion'),
        measured=f'{total:,}',
        threshold='equal' if exact else 'equal at the significant figures written',
        ok=ok,
        correct=f'{total:,}{fig}',
      )
    )
  return rows


def p12_rows(results) -> list[v.Claim]:
  """003 P12: each architecture's receptive field and output, parameters and computations."""
  cfg = results['config']['p12']
  counts, layers = results['counts'], results['layers']
  want_rf, shape = cfg['receptive_field'], _shape(cfg['input'])
  rows, costs = [], {}
  for i, (kernels, doc_p, doc_p_total, doc_c, doc_c_total) in enumerate(DOC_003_P12, 1):
    key = f'p12_arch{i}'
    arch = ', '.join(f'{k}x{k}' for k in kernels)
    rf, out = counts[f'{key}.rf'], counts[f'{key}.output']
    rows.append(
      _claim(
        '003 P12.1',
        f'architecture {i} ({arch}, stride 1, SAME): receptive field 7x7, output HxWxC',
        document=f'architecture {i}: {arch}',
        measured=f'receptive field {rf}x{rf}; {shape} -> {out}',
        threshold=f'receptive field == {want_rf} and output shape == input shape',
        ok=rf == want_rf and out == shape,
        value=rf,
      )
    )
    params = [r['params'] for r in layers[key]]
    ops = [r['macs'] for r in layers[key]]
    costs[i] = sum(ops)
    rows.append(
      _wrong(
        '003 P12.2',
        f'architecture {i}: trainable parameters (depth 1, one filter per layer)',
        document=' + '.join(map(str, doc_p)) + f' = {doc_p_total}',
        measured=' + '.join(map(str, params)) + f' = {sum(params)}',
        threshold='equal, layer by layer and in total',
        ok=list(doc_p) == params and doc_p_total == sum(params),
        correct=f'{sum(params)}',
      )
    )
    doc_total = '(total not in the text)' if doc_c_total is None else f'{doc_c_total:,}'
    rows.append(
      _wrong(
        '003 P12.3',
        f'architecture {i}: computations on {shape}',
        document=' + '.join(f'{x:,}' for x in doc_c) + f' = {doc_total}',
        measured=' + '.join(f'{x:,}' for x in ops) + f' = {sum(ops):,}',
        threshold='equal, layer by layer' + ('' if doc_c_total is None else ' and in total'),
        ok=list(doc_c) == ops and doc_c_total in (None, sum(ops)),
        correct=f'{sum(ops):,}',
      )
    )
  largest, smallest = max(costs, key=costs.get), min(costs, key=costs.get)
  rows.append(
    _wrong(
      '003 P12.3',
      'the largest and the smallest computational requirement',
      document=f'largest: architecture {DOC_003_P12_LARGEST}; smallest: '
      f'architecture {DOC_003_P12_SMALLEST}',
      measured=', '.join(f'{i}: {c:,}' for i, c in costs.items()),
      threshold='the same architectures',
      ok=(largest, smallest) == (DOC_003_P12_LARGEST, DOC_003_P12_SMALLEST),
      correct=f'largest: architecture {largest}; smallest: architecture {smallest}',
    )
  )
  return rows


def _param_layers(results, key):
  return [r for r in results['layers'][key] if r['kind'] in ('conv', 'dense')]


def q5_rows(results) -> list[v.Claim]:
  """000 Q5: VGG column D (1000 classes) per layer and in total; the answer used a 2-class head."""
  d = _param_layers(results, 'vgg_D')
  counted = [r['params'] for r in d]
  head = results['counts']['vgg_D_head.params']
  total = results['counts']['vgg_D.params']
  body_ok = len(counted) == len(DOC_000_Q5_LAYERS) and counted[:-1] == list(DOC_000_Q5_LAYERS[:-1])
  differ = [
    f'{r["layer"]}: {r["params"]:,}'
    for r, doc in zip(d[:-1], DOC_000_Q5_LAYERS[:-1])
    if r['params'] != doc
  ]
  return [
    _wrong(
      '000 Q5',
      'VGG column D: parameters of the 13 conv layers and the first two FC layers',
      document=', '.join(f'{x:,}' for x in DOC_000_Q5_LAYERS[:-1]),
      measured=f'{len(counted) - 1 - len(differ)} of {len(counted) - 1} layers equal',
      threshold='equal, layer by layer (with biases, as its Keras summary counts)',
      ok=body_ok,
      correct='; '.join(differ),
    ),
    _wrong(
      '000 Q5',
      'VGG column D: parameters of the last FC layer (FC-1000)',
      document=f'dense_2 (Dense), output (None, 2): {DOC_000_Q5_LAYERS[-1]:,}',
      measured=f'{counted[-1]:,} (4096 x 1000 + 1000)',
      threshold='equal',
      ok=counted[-1] == DOC_000_Q5_LAYERS[-1],
      correct=f'{counted[-1]:,}',
    ),
    _wrong(
      '000 Q5',
      'VGG column D: total parameters (1000 classes)',
      document=f'Total params: {DOC_000_Q5_TOTAL:,}',
      measured=f'{total:,}; its 2-class-head model counts {head:,}',
      threshold='equal',
      ok=total == DOC_000_Q5_TOTAL,
      correct=f'{total:,}',
    ),
  ]


def q15_rows(results) -> list[v.Claim]:
  """004 Q1.5: AlexNet (the paper's two towers), VGG A-E in millions, GoogLeNet per stage."""
  counts = results['counts']
  two = [r['params'] for r in _param_layers(results, 'alexnet_towers2')]
  one = [r['params'] for r in _param_layers(results, 'alexnet_towers1')]
  differ = [
    f'L{i}: {c:,}' for i, (c, doc) in enumerate(zip(two, DOC_004_Q15_ALEXNET), 1) if c != doc
  ]
  same_as_one = sum(a == b for a, b in zip(one, DOC_004_Q15_ALEXNET))
  rows = [
    _wrong(
      '004 Q1.5a',
      "AlexNet's parameters layer by layer (the paper's net: conv2, 4, 5 grouped over 2 GPUs)",
      document=', '.join(f'L{i}: {x:,}' for i, x in enumerate(DOC_004_Q15_ALEXNET, 1)),
      measured=f'{len(two) - len(differ)} of {len(two)} layers equal; {same_as_one} of its '
      f"{len(DOC_004_Q15_ALEXNET)} figures equal the one-tower (ungrouped) net's",
      threshold='equal, layer by layer',
      ok=not differ and len(two) == len(DOC_004_Q15_ALEXNET),
      correct='; '.join(differ),
    ),
    _wrong(
      '004 Q1.5a',
      "AlexNet's total parameters",
      document=f'{DOC_004_Q15_ALEXNET_TOTAL:,} (~62M)',
      measured=f"{counts['alexnet_towers2.params']:,} (the paper's two towers); "
      f'{counts["alexnet_towers1.params"]:,} without grouping',
      threshold="equal to the paper's net",
      ok=counts['alexnet_towers2.params'] == DOC_004_Q15_ALEXNET_TOTAL,
      correct=f'{counts["alexnet_towers2.params"]:,}',
    ),
  ]
  vgg_differ = [
    f'{k}: {as_written(counts[f"vgg_{k}.params"], doc)}'
    for k, doc in DOC_004_Q15_VGG.items()
    if not agrees_as_written(counts[f'vgg_{k}.params'], doc)
  ]
  rows.append(
    _wrong(
      '004 Q1.5b',
      'VGG A, A-LRN, B, C, D, E: total parameters in millions',
      document=', '.join(f'{k}: {x}' for k, x in DOC_004_Q15_VGG.items()),
      measured=', '.join(f'{k}: {counts[f"vgg_{k}.params"]:,}' for k in DOC_004_Q15_VGG),
      threshold='equal at the significant figures written',
      ok=not vgg_differ,
      correct='; '.join(vgg_differ),
    )
  )
  stages = [(s, doc, counts.get(f'googlenet.stage.{s}.params')) for s, doc in DOC_004_Q15_GOOGLENET]
  agree = [c is not None and agrees_as_written(c, doc) for _, doc, c in stages]
  quoted = sum(figure(doc)[0] for _, doc, _ in stages)
  rows.append(
    _wrong(
      '004 Q1.5c',
      "GoogLeNet's parameters per stage (quoted from the paper's Table 1)",
      document=', '.join(f'{s}: {doc}' for s, doc, _ in stages),
      measured=f'{sum(agree)} of {len(stages)} stages agree: '
      + ', '.join(f'{s}: {_n(c)}' for s, _, c in stages),
      threshold='equal at the significant figures written, stage by stage',
      ok=all(agree),
      correct=', '.join(f'{s}: {_n(c)}' for (s, _, c), ok in zip(stages, agree) if not ok),
    )
  )
  total = counts['googlenet.params']
  rows.append(
    _wrong(
      '004 Q1.5c',
      "GoogLeNet's total parameters (no auxiliary classifiers)",
      document=f'(2.7 + 112 + ... + 1000)K ~ {DOC_004_Q15_GOOGLENET_TOTAL}',
      measured=f'{total:,}; its quoted figures add up to {quoted:,.0f}',
      threshold='equal at the significant figures written',
      ok=agrees_as_written(total, DOC_004_Q15_GOOGLENET_TOTAL),
      correct=f'{total:,} ({as_written(total, DOC_004_Q15_GOOGLENET_TOTAL)})',
    )
  )
  return rows


def _agrees(count, ref, mode, about):
  if mode == 'exact':
    return count == ref
  if mode == 'millions':
    return round(count / 1e6) == ref
  return abs(count - ref) <= about * abs(ref)


def _formula_refs(cfg):
  """Closed forms worked from the config, against which the layer-by-layer counter is checked."""
  ce, im = cfg.conv_example, cfg.inception_module
  h, w, cin = ce.input
  k, f = ce.kernel, ce.filters
  refs = {
    'conv5x5x8.params': ((k * k * cin + 1) * f, 'exact', f'({k}*{k}*{cin} + 1) * {f}'),
    'conv5x5x8.output': (f'{h - k + 1}x{w - k + 1}x{f}', 'exact', '(W - K) / 1 + 1, filters'),
    'conv5x5x8.macs': ((h - k + 1) * (w - k + 1) * f * k * k * cin, 'exact', 'Ho*Wo*f*k*k*Cin'),
  }
  hh, ww, d = im.input
  naive = hh * ww * d * (im.c1 + 9 * im.c3 + 25 * im.c5)
  pointwise = d * (im.c1 + im.c3_reduce + im.c5_reduce + im.pool_proj)
  reduced = hh * ww * (pointwise + 9 * im.c3_reduce * im.c3 + 25 * im.c5_reduce * im.c5)
  refs.update(
    {
      'inception_naive.output': (
        f'{hh}x{ww}x{im.c1 + im.c3 + im.c5 + d}',
        'exact',
        'c1 + c3 + c5 + input depth (the pool keeps it)',
      ),
      'inception_naive.macs': (naive, 'exact', 'H*W*D*(c1 + 9 c3 + 25 c5)'),
      'inception_reduced.output': (
        f'{hh}x{ww}x{im.c1 + im.c3 + im.c5 + im.pool_proj}',
        'exact',
        'c1 + c3 + c5 + pool_proj',
      ),
      'inception_reduced.macs': (
        reduced,
        'exact',
        'H*W*(D*(c1 + r3 + r5 + pp) + 9 r3 c3 + 25 r5 c5)',
      ),
    }
  )
  return refs


def reference_rows(results):
  """(topic, item, counted, reference, source, mode, agrees) for every published figure."""
  cfg = ml_collections.ConfigDict(results['config'])
  about = cfg.verdict.about
  counts = results['counts']
  refs = dict(REFERENCES, **_formula_refs(cfg))
  out = []
  for key, (ref, mode, source) in refs.items():
    topic = next(t for t, prefix in TOPICS if key.startswith(prefix))
    count = counts.get(key)
    agrees = (
      None
      if count is None
      else _agrees(count, ref, mode, about)
      if mode != 'note'
      else (count == ref)
    )
    out.append((topic, key, count, ref, source, mode, agrees))
  return out


def _row_verdict(mode, agrees, key, count):
  if mode == 'note':
    if agrees is None:
      return 'shown'
    note = NOTES.get(key, '')
    return 'agrees' if agrees else 'differs' + (f': {note.format(count=count)}' if note else '')
  return {True: 'agrees', False: 'DIFFERS', None: 'not counted'}[agrees]


def _fmt(x):
  if isinstance(x, float):
    return f'{x:.3f}'
  return _n(x)


def verdict(results) -> v.Verdict:
  about = results['config']['verdict']['about']
  table, by_topic = [], {}
  for topic, key, count, ref, source, mode, agrees in reference_rows(results):
    tol = {'exact': '', 'millions': ' (millions)', 'about': f' (±{about:.0%})', 'note': ''}[mode]
    table.append(
      {
        'topic': topic,
        'item': key,
        'counted': _fmt(count),
        'published': _fmt(ref) + tol,
        'source': source,
        'row verdict': _row_verdict(mode, agrees, key, count),
      }
    )
    if mode != 'note':
      by_topic.setdefault(topic, []).append(agrees)
  claims = (
    conv_example_rows(results)
    + pooling_rows(results)
    + vgg_table_rows(results)
    + inception_rows(results)
    + p12_rows(results)
    + q5_rows(results)
    + q15_rows(results)
  )
  for topic, oks in by_topic.items():
    bad = sum(ok is False for ok in oks)
    missing = sum(ok is None for ok in oks)
    claims.append(
      v.test(
        v.OWN,
        f"{topic}: the modules' counts match the "
        + ('closed forms' if topic == 'closed-form arithmetic' else 'published figures')
        + ' (Measured table)',
        document='-',
        measured=f'{len(oks) - bad - missing} of {len(oks)} rows agree',
        threshold=f'every row agrees (exact, or within {about:.0%} where the source rounds)',
        passed=None if missing else bad == 0,
        value=float(len(oks) - bad - missing),
        from_training=False,
      )
    )
  outcome, reasons = v.decide(claims, [])
  return v.Verdict(outcome, claims, table, reasons)


def _write_tables(results, workdir):
  for name, layer_rows in results['layers'].items():
    header = list(layer_rows[0])
    files.write_csv(
      os.path.join(workdir, 'tables', f'{name}.csv'),
      header,
      [[r.get(k, '') for k in header] for r in layer_rows],
    )


def plot(results, workdir) -> list[str]:
  """Per-layer CSV tables (tables/NAME.csv), a cost chart and the pooling matrices."""
  import matplotlib.pyplot as plt

  _write_tables(results, workdir)
  counts = results['counts']
  nets_shown = [
    'lenet5',
    'alexnet_towers1',
    'alexnet_towers2',
    'vgg_A',
    'vgg_D',
    'vgg_E',
    'googlenet',
    'resnet18',
    'resnet18_cifar',
  ]
  fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
  for ax, metric, label in ((axes[0], 'params', 'parameters'), (axes[1], 'macs', 'multiply-adds')):
    ax.bar(nets_shown, [counts[f'{n}.{metric}'] for n in nets_shown])
    ax.set(yscale='log', ylabel=label, title=f'{label} per image (counted with jax.eval_shape)')
    ax.tick_params(axis='x', rotation=60)
    ax.grid(alpha=0.3, axis='y')
  paths = [report.save_figure(fig, os.path.join(workdir, 'architecture_costs.png'))]
  copies = results['pooling']['copies']
  if not copies:
    return paths
  fig, axes = plt.subplots(3, len(copies), figsize=(2.6 * len(copies), 7.5), squeeze=False)
  for j, copy in enumerate(copies):
    for i, (what, m) in enumerate(
      (('image', copy['image']), ('2x2 avg (3D)', copy['avg']), ('2x2 max (3E)', copy['max']))
    ):
      ax = axes[i, j]
      m = np.asarray(m)
      ax.imshow(m, cmap='Greys', vmin=0, vmax=1)
      for (a, b), val in np.ndenumerate(m):
        ax.text(b, a, f'{val:g}', ha='center', va='center', color='tab:red')
      ax.set(xticks=[], yticks=[], title=f'{what}, shift {tuple(copy["shift"])}')
  fig.suptitle("002 3D-3E: the question's images, as reconstructed from the answers")
  paths.append(report.save_figure(fig, os.path.join(workdir, 'pooling_translation.png')))
  return paths
