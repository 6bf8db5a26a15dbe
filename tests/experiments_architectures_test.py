"""The architecture finding: counted from the modules, compared row by row, reported."""

import copy
import json

import pytest

from engine import run
from experiments import architectures


@pytest.fixture(scope='module')
def finished(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('architectures')
  config = architectures.get_config()
  results = run.run(architectures, config, str(workdir), command='test')
  return workdir, results


def test_every_row_agrees_and_the_finding_is_reproduced(finished):
  workdir, results = finished
  counts = results['counts']
  assert counts['vgg_D.params'] == 138_357_544
  assert counts['vgg_D_head.params'] == 134_268_738
  assert counts['lenet5.C1.connections'] == 122_304 and counts['lenet5.C3.params'] == 1_516
  assert counts['conv5x5x8.params'] == 608 and counts['conv5x5x8.output'] == '28x28x8'
  assert counts['inception_naive.output'] == '32x32x672'
  assert counts['inception_reduced.output'] == '32x32x480'
  assert counts['stack_3x3x3.rf'] == 7 and counts['vgg_D.rf'] == 212
  assert results['verdict']['outcome'] == 'REPRODUCED'
  rows = {r['item']: r for r in results['verdict']['table']}
  assert rows['vgg_D.activations']['row verdict'].startswith('differs')  # the seed's "24M"
  assert '15,237,608' in rows['vgg_D.activations']['row verdict']
  assert rows['CONV3-64 (Conv_0)']['counted'] == '224x224x64 = 3,211,264; 1,728 weights'
  report = (workdir / 'report.md').read_text()
  assert '# architectures: REPRODUCED' in report and '138,357,544' in report
  for name in (
    'tables/vgg_D.csv',
    'tables/lenet5.csv',
    'architecture_costs.png',
    'pooling_translation.png',
    'results.json',
  ):
    assert (workdir / name).is_file(), name
  assert json.loads((workdir / 'status.json').read_text())['state'] == 'finished'


def test_max_pooling_ignores_the_shifts_and_average_pooling_does_not(finished):
  _, results = finished
  copies = results['pooling']['copies']
  assert copies[0]['max'] == [[3, 3], [3, 3]] and copies[0]['avg'] == [[1.25, 1.25], [1.25, 1.25]]
  assert all(c['max'] == copies[0]['max'] for c in copies[1:])
  assert copies[1]['avg'] == [[1.0, 1.25], [1.0, 1.25]]


def test_a_wrong_count_is_not_reproduced(finished):
  _, results = finished
  bad = copy.deepcopy(results)
  bad['counts']['resnet18.params'] += 1
  v = architectures.verdict(bad)
  assert v.outcome == 'NOT REPRODUCED'
  assert [c.passed for c in v.claims if c.claim.startswith('ResNet-18')] == [False]
  assert {r['item']: r['row verdict'] for r in v.table}['resnet18.params'] == 'DIFFERS'


def test_the_seed_arithmetic_follows_an_overridden_config(finished):
  _, results = finished
  changed = copy.deepcopy(results)
  changed['config']['conv_example']['filters'] = 16
  v = architectures.verdict(changed)
  row = {r['item']: r for r in v.table}['conv5x5x8.params']
  assert row['reference'] == '1,216' and row['row verdict'] == 'DIFFERS'  # 608 was counted
