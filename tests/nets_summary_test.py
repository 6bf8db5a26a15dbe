"""Layer tables from real modules: counts, connections, receptive fields."""

import flax.linen as nn
import pytest

import nets
from nets import summary


@pytest.fixture(scope='module')
def lenet5():
  return {r.path: r for r in summary.layers(nets.build('lenet5'), (28, 28, 1))}


def test_lenet5_layers_match_the_paper(lenet5):
  assert (lenet5['C1'].params, lenet5['C1'].connections) == (156, 122_304)
  assert (lenet5['S2'].params, lenet5['S2'].connections) == (12, 5_880)
  assert (lenet5['C3'].params, lenet5['C3'].connections) == (1_516, 151_600)
  assert (lenet5['S4'].params, lenet5['S4'].connections) == (32, 2_000)
  assert (lenet5['C5'].params, lenet5['F6'].params) == (48_120, 10_164)
  assert sum(r.params for k, r in lenet5.items() if k != 'output') == 60_000
  assert lenet5['C3'].output_shape == (10, 10, 16)


def test_a_single_conv_and_its_multiply_adds():
  (row,) = summary.layers(nn.Conv(8, (5, 5), padding='VALID'), (32, 32, 3), train=None)
  assert (row.params, row.output_shape, row.macs) == (608, (28, 28, 8), 28 * 28 * 8 * 75)
  assert summary.output_shape(nn.Conv(8, (5, 5), padding='VALID'), (32, 32, 3), train=None) == (
    28,
    28,
    8,
  )


def test_receptive_fields():
  assert summary.receptive_fields([(3, 1)] * 3) == [(3, 1), (5, 1), (7, 1)]
  assert summary.receptive_fields([(3, 1), (3, 1), (2, 2), (3, 1)])[-1] == (10, 2)
  vgg = summary.layers(nets.build('vgg'), (224, 224, 3))
  assert summary.receptive_fields(summary.stack_of(vgg))[-1] == (212, 32)


def test_totals_add_the_rows():
  table = summary.layers(nets.build('resnet18'), (224, 224, 3))
  t = summary.totals(table)
  assert t['params'] == 11_689_512
  assert t['macs'] == 1_814_073_344
  assert sum(r.kind == 'conv' for r in table) == 20  # 17 3x3/7x7 convs + 3 projections
