"""The architecture finding: the documents' counts row by row against the modules' counts."""

import copy
import json

import numpy as np
import pytest

from engine import run
from experiments import architectures as arch


@pytest.fixture(scope='module')
def finished(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('architectures')
  results = run.run(arch, arch.get_config(), str(workdir), command='test')
  return workdir, results


def _rows(verdict, id, startswith=''):
  return [c for c in verdict.claims if c.id == id and c.claim.startswith(startswith)]


def _one(verdict, id, startswith=''):
  (row,) = _rows(verdict, id, startswith)
  return row


def test_the_question_images_are_the_one_pattern_that_fits_the_answer():
  found = arch.reconstruct(arch.DOC_002_3D, size=4, window=2, values=(0, 1))
  assert len(found) == 1
  block = np.zeros((4, 4))
  block[:3, :3] = 1
  np.testing.assert_array_equal(found[0].image, block)
  assert found[0].shifts == ((0, 0), (0, 1), (1, 1), (1, 0))
  # An answer no moved copy of the pattern can give: nothing fits.
  inconsistent = (arch.DOC_002_3D[0], ((0.25, 0.25), (0.25, 0.25)))
  assert arch.reconstruct(inconsistent, size=4, window=2, values=(0, 1)) == []


def test_figures_compare_at_the_significant_figures_written():
  assert arch.figure('800K') == (800_000, 1) and arch.figure('3.2M') == (3_200_000, 2)
  assert arch.figure('1.11B') == (1_110_000_000, 3) and arch.figure('4096') == (4096, 4)
  assert arch.agrees_as_written(802_816, '800K') and arch.agrees_as_written(3_211_264, '3.2M')
  assert arch.agrees_as_written(1_114_000_000, '1.11B')
  assert not arch.agrees_as_written(1_115_684_864, '1.11B')  # rounds to 1.12
  assert not arch.agrees_as_written(6_998_552, '6.8M')
  assert arch.as_written(6_998_552, '6.8M') == '7.0M'
  assert arch.as_written(1_115_684_864, '1.11B') == '1.12 billion'


def test_the_run_marks_each_document_row(finished):
  workdir, results = finished
  v = arch.verdict(results)
  counts = results['counts']
  assert counts['vgg_D.params'] == 138_357_544 and counts['vgg_D_head.params'] == 134_268_738
  assert _one(v, '002 3B').result == 'HOLDS' and _one(v, '002 3C').result == 'HOLDS'
  assert _one(v, '002 3D').result == 'HOLDS' and _one(v, '002 3E').result == 'HOLDS'
  assert _one(v, '002 3F', 'max pooling makes').result == 'HOLDS'
  assert _one(v, '002 3F', 'average pooling makes').result == 'DOES NOT HOLD'
  assert _one(v, '002 3F', 'max pooling: a missing').result == 'HOLDS'
  assert _one(v, '002 3F', 'average pooling: a missing').result == 'DOES NOT HOLD'

  vgg = _rows(v, '003 P10.1')
  assert len(vgg) == len(arch.DOC_003_P10_VGG) + 1
  first_conv = _one(v, '003 P10.1', 'VGG-16 row 1:')
  assert first_conv.result == 'DOCUMENT WRONG' and first_conv.correct.startswith('1,728 ')
  assert _one(v, '003 P10.1', 'VGG-16 row 20:').result == 'HOLDS'  # FC2: no bias counted
  assert _one(v, '003 P10.1', 'VGG-16 row 21:').correct.startswith('4,096,000 ')
  assert _one(v, '003 P10.1', 'VGG-16 row 3:').result == 'HOLDS'  # a pool: 800K, 0
  total = _one(v, '003 P10.1', 'VGG-16 total')
  assert total.result == 'DOCUMENT WRONG' and total.correct.startswith('138,344,128')

  pool_proj = _one(v, '003 P10.2b', 'dimension-reduction module, branch 3x3 max pool')
  assert pool_proj.result == 'DOCUMENT WRONG' and pool_proj.correct == '16,777,216'
  assert _one(v, '003 P10.2b', 'naive module, branch 3x3 conv').correct == '452,984,832'
  assert '1.12 billion' in _one(v, '003 P10.2b', 'naive module: total').correct
  assert _one(v, '003 P10.2b', 'dimension-reduction module: total').correct == '354,418,688'
  assert all(c.result == 'HOLDS' for c in _rows(v, '003 P10.2a'))

  p12 = [c for c in v.claims if c.id.startswith('003 P12')]
  assert len(p12) == 16 and all(c.result == 'HOLDS' for c in p12)

  q5_total = _one(v, '000 Q5', 'VGG column D: total')
  assert q5_total.result == 'DOCUMENT WRONG' and q5_total.correct == '138,357,544'
  assert _one(v, '000 Q5', 'VGG column D: parameters of the 13').result == 'HOLDS'
  assert _one(v, '004 Q1.5a', "AlexNet's total").correct == '60,965,224'
  assert _one(v, '004 Q1.5b').result == 'HOLDS'
  assert _one(v, '004 Q1.5c', "GoogLeNet's total").result == 'DOCUMENT WRONG'

  own = _rows(v, 'own')
  assert own and all(c.result == 'HOLDS' for c in own)
  assert all(not c.from_training for c in v.claims)
  assert v.outcome == 'NOT REPRODUCED'  # average pooling's 3F rows

  report = (workdir / 'report.md').read_text()
  assert report.index('## Claims') < report.index('## The finding')
  assert '| 003 P10.2b |' in report and '138,357,544' in report
  for name in ('tables/vgg_D.csv', 'architecture_costs.png', 'pooling_translation.png'):
    assert (workdir / name).is_file(), name
  assert json.loads((workdir / 'status.json').read_text())['state'] == 'finished'


def test_rows_follow_the_counts_they_read(finished):
  _, results = finished
  r = copy.deepcopy(results)
  r['counts']['conv5x5x8.params'] = 609
  r['counts']['p12_arch2.rf'] = 5
  r['counts']['inception_reduced.branch3.macs'] = 4_194_304  # the document's figure
  r['pooling']['copies'][2]['max'] = [[1.0, 1.0], [1.0, 0.0]]
  r['pooling']['deletions']['max'] = {'unchanged': 17, 'total': 36}
  r['pooling']['deletions']['avg'] = {'unchanged': 18, 'total': 36}
  v = arch.verdict(r)
  wrong = _one(v, '002 3B')
  assert wrong.result == 'DOCUMENT WRONG' and wrong.correct == '609'
  assert _one(v, '003 P12.1', 'architecture 2').result == 'DOES NOT HOLD'
  assert _one(v, '003 P10.2b', 'dimension-reduction module, branch 3x3 max').result == 'HOLDS'
  assert _one(v, '002 3E').result == 'DOCUMENT WRONG'
  assert _one(v, '002 3F', 'max pooling makes').result == 'DOES NOT HOLD'
  assert _one(v, '002 3F', 'max pooling: a missing').result == 'DOES NOT HOLD'  # 17/36 < 0.5
  assert _one(v, '002 3F', 'average pooling: a missing').result == 'HOLDS'  # 18/36 >= 0.5
  assert v.outcome == 'NOT REPRODUCED'


def test_a_wrong_module_count_fails_its_own_check(finished):
  _, results = finished
  r = copy.deepcopy(results)
  r['counts']['resnet18.params'] += 1
  v = arch.verdict(r)
  assert [c.result for c in v.claims if c.claim.startswith('ResNet-18')] == ['DOES NOT HOLD']
  assert {t['item']: t['row verdict'] for t in v.table}['resnet18.params'] == 'DIFFERS'


def test_without_a_unique_reconstruction_the_pooling_rows_are_inconclusive(finished):
  _, results = finished
  r = copy.deepcopy(results)
  r['pooling'] = {'solutions': 0, 'copies': [], 'deletions': {}}
  v = arch.verdict(r)
  pooling = [c for c in v.claims if c.id in ('002 3D', '002 3E', '002 3F')]
  assert len(pooling) == 6 and all(c.result == 'INCONCLUSIVE' for c in pooling)
  assert v.outcome == 'INCONCLUSIVE'
