"""Architecture arithmetic: parameters, activations, multiply-adds, receptive fields, pooling.

Seeds: the midterm's Q5 (VGG column D; its Keras summary of VGG-16 with a 2-class head), exam
problems 6 (LeNet-5), 10 (the VGG-16 per-layer table) and 12, theory Q1.5, and the CS155-style
problem "Max/Average Pooling". Nothing is trained: every count comes from the real linen modules
in nets/ (VGG A-E, AlexNet, GoogLeNet, ResNet-18, LeNet-5), traced with `jax.eval_shape`
(nothing allocated, so VGG's 138M parameters cost nothing), layer by layer (nets/summary.py).
Each row stands beside the published figure or the seed's answer with its own verdict; a
seed's answer that the count contradicts is shown as such, not hidden.

Conventions: multiply-adds count kernel weights once per output position (biases, activations
and pools excluded); "connections" (LeCun et al. 1998) add one bias input per output unit;
activations sum the outputs of the convs, pools and FC layers for one image.
"""

import math
import os

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

# Exam problem 10's layout, as in the CS231n notes' VGG-16 walk-through: (layer, output shape,
# "memory" = activations as printed, weights without biases). The notes' total, "24M", is not the
# sum of their own rows.
VGG16_TABLE = (
  ('INPUT', (224, 224, 3), '150K', 0),
  ('CONV3-64', (224, 224, 64), '3.2M', 1_728),
  ('CONV3-64', (224, 224, 64), '3.2M', 36_864),
  ('POOL2', (112, 112, 64), '800K', 0),
  ('CONV3-128', (112, 112, 128), '1.6M', 73_728),
  ('CONV3-128', (112, 112, 128), '1.6M', 147_456),
  ('POOL2', (56, 56, 128), '400K', 0),
  ('CONV3-256', (56, 56, 256), '800K', 294_912),
  ('CONV3-256', (56, 56, 256), '800K', 589_824),
  ('CONV3-256', (56, 56, 256), '800K', 589_824),
  ('POOL2', (28, 28, 256), '200K', 0),
  ('CONV3-512', (28, 28, 512), '400K', 1_179_648),
  ('CONV3-512', (28, 28, 512), '400K', 2_359_296),
  ('CONV3-512', (28, 28, 512), '400K', 2_359_296),
  ('POOL2', (14, 14, 512), '100K', 0),
  ('CONV3-512', (14, 14, 512), '100K', 2_359_296),
  ('CONV3-512', (14, 14, 512), '100K', 2_359_296),
  ('CONV3-512', (14, 14, 512), '100K', 2_359_296),
  ('POOL2', (7, 7, 512), '25K', 0),
  ('FC', (4096,), '4096', 102_760_448),
  ('FC', (4096,), '4096', 16_777_216),
  ('FC', (1000,), '1000', 4_096_000),
)

# key -> (reference, how it is compared, source). 'exact': equal; 'millions': equal after rounding
# the count to millions; 'about': within config.verdict.about (relative); 'note': a seed's figure
# shown beside the count, not a check of the modules.
REFERENCES = {
  'vgg_A.params': (133, 'millions', 'VGG paper, Table 2'),
  'vgg_A-LRN.params': (133, 'millions', 'VGG paper, Table 2'),
  'vgg_B.params': (133, 'millions', 'VGG paper, Table 2'),
  'vgg_C.params': (134, 'millions', 'VGG paper, Table 2'),
  'vgg_D.params': (138_357_544, 'exact', 'midterm Q5 / Keras VGG16 summary'),
  'vgg_D_head.params': (134_268_738, 'exact', "midterm Q5's Keras summary, 2-class head"),
  'vgg_E.params': (143_667_240, 'exact', 'Keras VGG19 summary (paper: 144M)'),
  'vgg_D.activations': (24_000_000, 'note', 'exam problem 10 / CS231n total "24M"'),
  'vgg_D.weights': (138_000_000, 'about', 'exam problem 10 / CS231n total "138M"'),
  'alexnet_towers2.params': (60_000_000, 'about', 'AlexNet paper: "60 million parameters"'),
  'alexnet_towers2.neurons': (650_000, 'about', 'AlexNet paper: "650,000 neurons"'),
  'alexnet_towers1.params': (62_378_344, 'exact', 'the usual single-tower count'),
  'googlenet.params': (6_800_000, 'about', 'GoogLeNet paper, Table 1 (about 6.8M)'),
  'googlenet.macs': (1_500_000_000, 'note', 'GoogLeNet paper: "1.5 billion multiply-adds"'),
  'resnet18.params': (11_689_512, 'exact', 'torchvision resnet18'),
  'resnet18.macs': (1_800_000_000, 'about', 'ResNet paper, Table 1: 1.8 x 10^9 FLOPs'),
  'resnet18_cifar.params': (11_173_962, 'exact', 'the common CIFAR ResNet-18 (kuangliu)'),
  'lenet5.C1.params': (156, 'exact', 'LeNet-5 paper / exam problem 6'),
  'lenet5.C1.connections': (122_304, 'exact', 'LeNet-5 paper / exam problem 6'),
  'lenet5.S2.params': (12, 'exact', 'LeNet-5 paper'),
  'lenet5.S2.connections': (5_880, 'exact', 'LeNet-5 paper'),
  'lenet5.C3.params': (1_516, 'exact', 'LeNet-5 paper / exam problem 6'),
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
  'vgg_D.rf': (212, 'exact', 'Araujo et al. 2019 (Distill), VGG-16 pool5'),
  'alexnet_towers1.rf': (195, 'exact', 'Araujo et al. 2019 (Distill), AlexNet pool5'),
}
NOTES = {
  'vgg_D.activations': "the table's own rows add up to {count:,}; its total is not their sum",
  'lenet5.connections': 'the output here is a dense layer with 10 biases; the RBF output has none',
  'googlenet.macs': 'the paper states a budget, not a count; its Table 1 layers count {count:,}',
}
TOPICS = (
  ('VGG', 'vgg_'),
  ('AlexNet', 'alexnet'),
  ('GoogLeNet', 'googlenet'),
  ('ResNet-18', 'resnet18'),
  ('LeNet-5', 'lenet5'),
  ('5x5 conv, 8 filters', 'conv5x5x8'),
  ('receptive fields', 'stack'),
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
  c.head_classes = 2  # the midterm's VGG-16 with a 2-class head
  c.conv_example = ml_collections.ConfigDict(dict(input=(32, 32, 3), filters=8, kernel=5))
  c.inception_module = ml_collections.ConfigDict(
    dict(input=(32, 32, 256), c1=128, c3_reduce=64, c3=192, c5_reduce=64, c5=96, pool_proj=64)
  )
  c.stacks = ml_collections.ConfigDict(dict(channels=64, input=(56, 56)))
  c.pooling = ml_collections.ConfigDict(
    dict(
      image=((3, 1, 3, 1), (1, 0, 1, 0), (3, 1, 3, 1), (1, 0, 1, 0)),
      shifts=((0, 1), (1, 0), (1, 1)),
      window=2,
    )
  )
  c.verdict = ml_collections.ConfigDict(dict(about=0.05))
  return c


class ConvStack(nn.Module):
  """SAME convs of `channels` with the given kernel sizes: the stacks whose receptive fields and
  costs the VGG paper compares."""

  kernels: tuple
  channels: int

  @nn.compact
  def __call__(self, x):
    for k in self.kernels:
      x = nn.Conv(self.channels, (k, k), padding='SAME')(x)
    return x


def _net(name, input_shape, **fields):
  return summary.layers(nets.build(name, **fields), tuple(input_shape))


def _shift(image, dy, dx):
  """The image moved down by dy and right by dx pixels, zeros coming in."""
  h, w = image.shape
  out = np.zeros_like(image)
  out[dy:, dx:] = image[: h - dy, : w - dx]
  return out


def _pool(kind, image, window):
  pooled = Pool(kind, (window, window)).apply({}, jnp.asarray(image, jnp.float32)[None, :, :, None])
  return np.asarray(pooled)[0, :, :, 0]


def pooling(config):
  """2x2 max and average pooling of the image and of each shifted copy, by the framework's Pool."""
  image = np.asarray(config.pooling.image, np.float32)
  out = {'image': image.tolist(), 'copies': []}
  for dy, dx in [(0, 0), *config.pooling.shifts]:
    shifted = _shift(image, dy, dx)
    out['copies'].append(
      {
        'shift': [dy, dx],
        'image': shifted.tolist(),
        'max': _pool('max', shifted, config.pooling.window).tolist(),
        'avg': _pool('avg', shifted, config.pooling.window).tolist(),
      }
    )
  return out


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
  add('googlenet', _net('googlenet', c.imagenet_input, num_classes=c.imagenet_classes))
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
    add(key, summary.layers(module, tuple(im.input), train=None))
    counts[f'{key}.output'] = 'x'.join(
      map(str, summary.output_shape(module, tuple(im.input), train=None))
    )
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


def _fmt(x):
  if isinstance(x, float):
    return f'{x:.3f}'
  return f'{x:,}' if isinstance(x, int) else str(x)


def _agrees(count, ref, mode, about):
  if mode == 'exact':
    return count == ref
  if mode == 'millions':
    return round(count / 1e6) == ref
  return abs(count - ref) <= about * abs(ref)


def _formula_refs(cfg):
  """References worked by hand from the config (the seed's arithmetic, for any override)."""
  ce, im = cfg.conv_example, cfg.inception_module
  h, w, cin = ce.input
  k, f = ce.kernel, ce.filters
  out = f'{h - k + 1}x{w - k + 1}x{f}'
  refs = {
    'conv5x5x8.params': ((k * k * cin + 1) * f, 'exact', f'seed: ({k}*{k}*{cin} + 1) * {f}'),
    'conv5x5x8.output': (out, 'exact', f'seed: ({h} - {k}) / 1 + 1 = {h - k + 1}, {f} maps'),
    'conv5x5x8.macs': (
      (h - k + 1) * (w - k + 1) * f * k * k * cin,
      'exact',
      'Ho*Wo*filters*k*k*Cin',
    ),
  }
  hh, ww, d = im.input
  naive = hh * ww * d * (im.c1 + 9 * im.c3 + 25 * im.c5)
  reduced = (
    hh
    * ww
    * (
      d * (im.c1 + im.c3_reduce + im.c5_reduce + im.pool_proj)
      + 9 * im.c3_reduce * im.c3
      + 25 * im.c5_reduce * im.c5
    )
  )
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


def _memory(text):
  scale = {'K': 1e3, 'M': 1e6}.get(text[-1], 1)
  return float(text.rstrip('KM')) * scale


def _vgg16_rows(results, about):
  layers = [r for r in results['layers']['vgg_D'] if r['kind'] != 'other']
  shape = 'x'.join(map(str, results['config']['imagenet_input']))
  layers = [
    {
      'layer': 'input',
      'output': shape,
      'activations': math.prod(results['config']['imagenet_input']),
      'weights': 0,
    }
  ] + layers
  rows = []
  for (name, ref_shape, memory, weights), r in zip(VGG16_TABLE, layers):
    ref_shape = 'x'.join(map(str, ref_shape))
    ok = (
      r['output'].endswith(ref_shape)
      and r['weights'] == weights
      and abs(r['activations'] - _memory(memory)) <= about * _memory(memory)
    )
    rows.append(
      (
        'exam 10: VGG-16 layers',
        f'{name} ({r["layer"]})',
        f'{r["output"]} = {r["activations"]:,}; {r["weights"]:,} weights',
        f'[{ref_shape}] {memory}; {weights:,}',
        'CS231n table',
        'exact',
        ok,
      )
    )
  if len(layers) != len(VGG16_TABLE):
    rows.append(
      (
        'exam 10: VGG-16 layers',
        'number of layers',
        len(layers),
        len(VGG16_TABLE),
        'CS231n table',
        'exact',
        False,
      )
    )
  return rows


def _pooling_rows(pool):
  base = pool['copies'][0]
  rows = [
    (
      'pooling and translation',
      'image -> 2x2 max | avg',
      str(pool['image']),
      f'{base["max"]} | {base["avg"]}',
      'computed (nets.pooling.Pool)',
      'note',
      None,
    )
  ]
  for copy in pool['copies'][1:]:
    dy, dx = copy['shift']
    where = f'shifted {dy} down, {dx} right'
    rows.append(
      (
        'pooling and translation',
        f'max pool, {where}',
        str(copy['max']),
        'same as unshifted',
        'CS155-style problem',
        'exact',
        copy['max'] == base['max'],
      )
    )
    rows.append(
      (
        'pooling and translation',
        f'avg pool, {where}',
        str(copy['avg']),
        'differs from unshifted',
        'CS155-style problem',
        'exact',
        copy['avg'] != base['avg'],
      )
    )
  return rows


def rows(results):
  """(topic, item, counted, reference, source, mode, agrees) for every comparison."""
  cfg = ml_collections.ConfigDict(results['config'])
  about = cfg.verdict.about
  counts = results['counts']
  refs = dict(REFERENCES, **_formula_refs(cfg))
  out = []
  for key, (ref, mode, source) in refs.items():
    topic = next((t for t, prefix in TOPICS if key.startswith(prefix)), 'inception module')
    count = counts.get(key)
    agrees = (
      None
      if count is None
      else _agrees(count, ref, mode, about)
      if mode != 'note'
      else (count == ref)
    )
    out.append((topic, key, count, ref, source, mode, agrees))
  out += _vgg16_rows(results, about) + _pooling_rows(results['pooling'])
  return out


def _row_verdict(mode, agrees, key, count):
  if mode == 'note':
    if agrees is None:
      return 'shown'
    note = NOTES.get(key, '')
    return 'agrees' if agrees else 'differs' + (f': {note.format(count=count)}' if note else '')
  return {True: 'agrees', False: 'DIFFERS', None: 'not counted'}[agrees]


def verdict(results) -> v.Verdict:
  about = results['config']['verdict']['about']
  all_rows = rows(results)
  table, by_topic = [], {}
  for topic, key, count, ref, source, mode, agrees in all_rows:
    tol = {'exact': '', 'millions': ' (millions)', 'about': f' (±{about:.0%})', 'note': ''}[mode]
    table.append(
      {
        'topic': topic,
        'item': key,
        'counted': _fmt(count),
        'reference': _fmt(ref) + tol,
        'source': source,
        'row verdict': _row_verdict(mode, agrees, key, count),
      }
    )
    if mode != 'note':
      by_topic.setdefault(topic, []).append(agrees)
  checks = []
  for topic, oks in by_topic.items():
    bad = sum(ok is False for ok in oks)
    missing = sum(ok is None for ok in oks)
    checks.append(
      v.Check(
        claim=f"{topic}: the modules' counts match the published figures and seed answers",
        threshold=f'every row agrees (exact, or within {about:.0%} where the source rounds)',
        measured=f'{len(oks) - bad - missing} of {len(oks)} rows agree',
        passed=None if missing else bad == 0,
        value=float(len(oks) - bad - missing),
      )
    )
  outcome, reasons = v.decide(checks, [])
  return v.Verdict(outcome, checks, table, reasons)


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
  fig, axes = plt.subplots(3, len(copies), figsize=(2.6 * len(copies), 7.5), squeeze=False)
  for j, copy in enumerate(copies):
    for i, (what, m) in enumerate(
      (('image', copy['image']), ('2x2 max', copy['max']), ('2x2 avg', copy['avg']))
    ):
      ax = axes[i, j]
      m = np.asarray(m)
      ax.imshow(m, cmap='Greys', vmin=0, vmax=np.max(results['pooling']['image']))
      for (a, b), val in np.ndenumerate(m):
        ax.text(b, a, f'{val:g}', ha='center', va='center', color='tab:red')
      ax.set(xticks=[], yticks=[], title=f'{what}, shift {tuple(copy["shift"])}')
  paths.append(report.save_figure(fig, os.path.join(workdir, 'pooling_translation.png')))
  return paths
