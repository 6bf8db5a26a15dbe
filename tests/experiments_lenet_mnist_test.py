"""The LeNet finding: its rows on synthetic records, the recipe's optimizer, and a tiny real run."""

import glob
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from PIL import Image

from engine import optimizers, run, schedules
from experiments import lenet_mnist

MNIST_TEST_COUNTS = (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)


def test_confusion_and_most_confused_pairs():
  labels = np.array([7, 7, 7, 9, 9, 2, 1])
  preds = np.array([2, 2, 7, 7, 9, 2, 7])
  m = lenet_mnist.confusion(labels, preds)
  assert m.sum() == 7 and m[7, 2] == 2 and m[9, 7] == 1 and np.trace(m) == 3
  assert lenet_mnist.most_confused(m, 2) == [(7, 2, 2), (1, 7, 1)]
  assert lenet_mnist.pair_rank(m, (7, 2)) == 1
  assert lenet_mnist.pair_rank(m, (9, 7)) == lenet_mnist.pair_rank(m, (1, 7)) == 2  # a tie
  assert lenet_mnist.pair_rank(m, (0, 1)) == 4


def test_the_documents_matrix_is_mnists_test_set_at_0_9605():
  m = np.array(lenet_mnist.ASSIGNMENT_MATRIX)
  assert tuple(m.sum(axis=1)) == MNIST_TEST_COUNTS
  assert np.trace(m) == 9605 and lenet_mnist.accuracy_of(m) == pytest.approx(0.9605)
  assert lenet_mnist.most_confused(m, 3) == [(7, 2, 19), (9, 7, 19), (4, 9, 17)]


def test_the_matrix_is_transcribed_from_the_document():
  """Where the source document is at hand: its tab-separated rows, blanks as 0, 'з' as 3."""
  found = glob.glob(
    os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'seeds', '004_*.txt')
  )
  if not found:
    pytest.skip('the source documents are not beside the repo')
  rows = {}
  for line in open(found[0], encoding='utf-8'):
    cells = line.rstrip('\n').split('\t')
    if len(cells) == 12 and cells[1].strip().isdigit() and cells[2:] != [''] * 10:
      values = [c.strip().replace('з', '3') for c in cells[2:]]
      if all(v == '' or v.isdigit() for v in values):
        rows[int(cells[1])] = tuple(int(v or 0) for v in values)
  assert tuple(rows[i] for i in range(10)) == lenet_mnist.ASSIGNMENT_MATRIX


def _matrix(accuracy, top=((7, 2), (9, 7))):
  """A 10,000-image confusion matrix at `accuracy` whose two largest error cells are `top`."""
  errors = round(10_000 * (1 - accuracy))
  m = np.zeros((10, 10), np.int64)
  for (t, p), n in zip(top, (errors // 5, errors // 6)):
    m[t, p] = n
  rest = errors - m.sum()
  cells = [(i, j) for i in range(10) for j in range(10) if i != j and (i, j) not in top]
  for k in range(rest):
    m[cells[k % len(cells)]] += 1
  np.fill_diagonal(m, 1000 - m.sum(axis=1))
  return m


@pytest.fixture(scope='module')
def lenet5():
  return lenet_mnist.lenet5_counts()


def _results(
  lenet5, accs, *, top=((7, 2), (9, 7)), seeds=2, standin=False, dataset='mnist', shape=None
):
  config = lenet_mnist.get_config().to_dict()
  records = [
    {
      'point': {'model.name': 'caffe_lenet'},
      'seed': s,
      'diverged': False,
      'final': {'test_accuracy': a},
    }
    for s, a in zip(range(seeds), accs)
  ]
  per_seed = [_matrix(a, top) for a in accs[:seeds]]
  rng = np.random.default_rng(0)
  conv1, conv2 = shape or (0.45, 0.30)
  return {
    'config': config,
    'records': records,
    'seeds': seeds,
    'dataset': {'name': dataset, 'standin': standin},
    'analysis': {
      'confusion': {'caffe_lenet': sum(per_seed).tolist()},
      'confusion_per_seed': {'caffe_lenet': [m.tolist() for m in per_seed]},
      'pairs': {'caffe_lenet': lenet_mnist.most_confused(sum(per_seed), 2)},
      'test_size': 10_000,
      'iterations': 5000,
      'shape': {
        'conv1': (conv1 + 0.05 * rng.standard_normal(200)).tolist(),
        'conv2': (conv2 + 0.05 * rng.standard_normal(200)).tolist(),
      },
      'lenet5': lenet5,
    },
  }


def _rows(verdict, id_, claim_part=''):
  return [c for c in verdict.claims if c.id == id_ and claim_part in c.claim]


def test_a_run_at_the_documents_accuracy_and_pairs_reproduces(lenet5):
  out = lenet_mnist.verdict(_results(lenet5, [0.9755, 0.9765]))
  assert out.outcome == 'REPRODUCED', [(c.id, c.result) for c in out.claims]
  (acc,) = _rows(out, '004 Q4.1')
  assert acc.result == 'HOLDS' and acc.value == pytest.approx(0.976)
  (pairs,) = _rows(out, '004 Q4.2', 'caffe_lenet')
  assert pairs.result == 'HOLDS' and 'rank 1' in pairs.measured
  (wrong,) = _rows(out, '004 Q4.2', 'gives its test accuracy')
  assert wrong.result == 'DOCUMENT WRONG' and wrong.correct == '0.9605' and not wrong.primary
  (own_pairs,) = _rows(out, '004 Q4.2', "document's own matrix")
  assert own_pairs.result == 'HOLDS'
  assert [c.result for c in _rows(out, '004 Q5.2')] == ['HOLDS']
  assert [c.result for c in _rows(out, '004 Q6')] == ['NOT APPLICABLE']
  assert {c.id: c.result for c in out.claims if c.id.startswith('003')} == {
    '003 P6.1': 'HOLDS',
    '003 P6.2': 'HOLDS',
    '003 P6.3': 'HOLDS',
    '003 P6.4': 'HOLDS',
  }
  assert out.table[0]["document's MNIST acc"] == 0.976


def test_a_higher_accuracy_than_the_documents_does_not_hold(lenet5):
  out = lenet_mnist.verdict(_results(lenet5, [0.990, 0.991]))
  (acc,) = _rows(out, '004 Q4.1')
  assert acc.result == 'DOES NOT HOLD' and out.outcome == 'NOT REPRODUCED'
  (reach,) = [c for c in out.claims if c.id == 'own']
  assert reach.result == 'HOLDS' and not reach.primary


def test_other_confused_pairs_do_not_hold(lenet5):
  out = lenet_mnist.verdict(_results(lenet5, [0.976, 0.976], top=((4, 9), (3, 5))))
  (pairs,) = _rows(out, '004 Q4.2', 'caffe_lenet')
  assert pairs.result == 'DOES NOT HOLD' and pairs.passed is False
  assert out.outcome == 'NOT REPRODUCED'


def test_a_shape_as_visible_in_conv2_does_not_hold(lenet5):
  out = lenet_mnist.verdict(_results(lenet5, [0.976, 0.976], shape=(0.40, 0.40)))
  (row,) = _rows(out, '004 Q5.2')
  assert row.result == 'DOES NOT HOLD' and abs(row.value) < 0.02
  assert out.outcome == 'REPRODUCED'  # a side claim: the outcome rests on Q4.1 and Q4.2


def test_one_seed_or_stand_in_data_is_inconclusive_but_says_what_it_showed(lenet5):
  one = lenet_mnist.verdict(_results(lenet5, [0.99], seeds=1))
  assert one.outcome == 'INCONCLUSIVE' and any('at least 2' in r for r in one.reasons)
  (acc,) = _rows(one, '004 Q4.1')
  assert acc.result == 'INCONCLUSIVE' and acc.indicated == 'DOES NOT HOLD'
  (wrong,) = _rows(one, '004 Q4.2', 'gives its test accuracy')
  assert wrong.result == 'DOCUMENT WRONG'  # about the document: no training needed
  standin = lenet_mnist.verdict(_results(lenet5, [0.976, 0.976], standin=True))
  assert standin.outcome == 'INCONCLUSIVE'


def test_on_other_data_the_documents_mnist_numbers_are_not_a_baseline(lenet5):
  out = lenet_mnist.verdict(_results(lenet5, [0.90, 0.91], dataset='fashion_mnist'))
  (acc,) = _rows(out, '004 Q4.1')
  assert acc.result == 'NOT APPLICABLE' and 'fashion_mnist' in acc.measured
  (pairs,) = _rows(out, '004 Q4.2', 'are 7 -> 2')
  assert pairs.result == 'NOT APPLICABLE'
  assert out.table[0]["document's MNIST acc"] == '-' and out.table[0]["document's pairs"] == '-'
  assert not [c for c in out.claims if c.id == 'own']


def test_p6_rows_mark_a_wrong_count(lenet5):
  wrong = {k: dict(r) for k, r in lenet5.items()}
  wrong['C3']['params'] = 1_500
  rows = {c.id: c for c in lenet_mnist.p6_rows(wrong)}
  assert rows['003 P6.4'].result == 'DOCUMENT WRONG' and rows['003 P6.4'].correct == '1,500'
  wrong['F6']['params'] = 10**6  # a layer without 120 units becomes the largest
  assert lenet_mnist.p6_rows(wrong)[2].result == 'DOES NOT HOLD'


def test_geometry_and_shape_measure():
  stack = lenet_mnist.get_config().analysis.layer_stack
  geo = lenet_mnist.geometry(stack)
  assert geo == {'conv1': (2, 1), 'pool1': (2, 2), 'conv2': (6, 2), 'pool2': (6, 4)}
  rng = np.random.default_rng(0)
  images = rng.random((3, 28, 28))
  aligned = np.stack([lenet_mnist._aligned_input(x, 6, 2, 8) for x in images])
  maps = {'conv2': np.stack([aligned, -2 * aligned, rng.random((3, 8, 8))], -1)}
  r = lenet_mnist.shape_visibility(images, maps, geo)['conv2']
  assert r.shape == (3,) and np.all(r > 2 / 3) and np.all(r < 1)  # two maps |r| = 1, one ~0
  flat = {'conv2': np.stack([aligned, np.ones_like(aligned)], -1)}  # a constant map is left out
  np.testing.assert_allclose(lenet_mnist.shape_visibility(images, flat, geo)['conv2'], 1.0)


def test_inv_schedule_is_caffes_formula():
  factory, args = schedules.get('inv')
  assert args == ('gamma', 'power')
  t = np.array([0.0, 1.0, 4999.0, 10_000.0])
  np.testing.assert_allclose(factory(0.01, 1e-4, 0.75)(t), 0.01 * (1 + 1e-4 * t) ** -0.75)


def _recipe(on):
  return dict(
    name='sgd',
    learning_rate=0.01,
    momentum=0.9,
    schedule='inv',
    gamma=1e-4,
    power=0.75,
    l2_weight_decay=5e-4,
    l2_decay_on=on,
  )


@pytest.mark.parametrize('on', ['kernels', 'all'])
def test_recipe_steps_as_train_lenet_m_does(on):
  """winc = mu winc + lr (g + wd w) on what is decayed, w -= winc: to float32 rounding."""
  cfg = _recipe(on)
  tx = optimizers.make(cfg)
  params = {'Dense_0': {'kernel': jnp.full((3,), 2.0), 'bias': jnp.full((3,), -1.0)}}
  state = tx.init(params)
  w = {k: np.asarray(x, np.float64) for k, x in params['Dense_0'].items()}
  winc = {k: 0.0 for k in w}
  grads = [0.5, -0.25, 1.0]
  for t, g in enumerate(grads):
    assert float(optimizers.learning_rate(cfg, state)) == pytest.approx(
      0.01 * (1 + 1e-4 * t) ** -0.75, rel=1e-6
    )
    updates, state = tx.update(
      jax.tree.map(lambda x, g=g: jnp.full_like(x, g), params), state, params
    )
    params = optax.apply_updates(params, updates)
    lr = 0.01 * (1 + 1e-4 * t) ** -0.75
    for k in w:
      decay = 5e-4 * w[k] if (on == 'all' or k == 'kernel') else 0.0
      winc[k] = 0.9 * winc[k] + lr * (g + decay)
      w[k] = w[k] - winc[k]
  for k in w:  # optax scales the momentum sum by today's rate: 1e-4 relative at most here
    np.testing.assert_allclose(np.asarray(params['Dense_0'][k]), w[k], rtol=1e-6)


def test_without_l2_the_optimizer_is_unchanged():
  """Other findings' results stay bit-identical: no key, no extra transformation."""
  cfg = dict(name='sgd', learning_rate=0.01, momentum=0.9)
  params = {'w': jnp.arange(3.0)}
  grads = {'w': jnp.array([0.3, -0.2, 0.1])}
  ours, ref = optimizers.make(cfg), optax.inject_hyperparams(optax.sgd)(0.01, 0.9)
  a, _ = ours.update(grads, ours.init(params), params)
  b, _ = ref.update(grads, ref.init(params), params)
  assert jax.tree.structure(ours.init(params)) == jax.tree.structure(ref.init(params))
  np.testing.assert_array_equal(a['w'], b['w'])
  with pytest.raises(ValueError, match='l2_decay_on'):
    optimizers.make(dict(cfg, l2_weight_decay=5e-4, l2_decay_on='biases'))
  with pytest.raises(ValueError, match='l2_weight_decay'):
    optimizers.make(dict(cfg, l2_decay_on='all'))


def test_tiny_run_restores_its_checkpoints_and_classifies_an_image(
  shared_datasets, tmp_path, monkeypatch
):
  monkeypatch.setenv('JAX_FINDINGS_DATA', shared_datasets)
  config = lenet_mnist.get_config('quick')
  config.dataset.update(
    dict(
      validation_size=256, train_subset=1024, test_subset=512, download=False, allow_standin=False
    )
  )
  config.train.update(dict(eval_train_size=256, eval_batch_size=256))
  config.analysis.update(dict(eval_batch_size=256, shape_images=16))
  workdir = tmp_path / 'run'
  results = run.run(lenet_mnist, config, str(workdir), progress=False, command='test')

  analysis = results['analysis']
  (r,) = results['records']  # the restored model gives the accuracy the loop measured
  assert analysis['checkpoint_accuracy']['caffe_lenet'] == [
    pytest.approx(r['final']['test_accuracy'], abs=1e-6)
  ]
  assert np.asarray(analysis['confusion']['caffe_lenet']).sum() == 512
  assert analysis['iterations'] == 1024 // 64 and analysis['test_size'] == 512
  maps = analysis['feature_maps']['layers']
  assert np.asarray(maps['conv1']).shape == (24, 24, 20)
  assert np.asarray(maps['conv2']).shape == (8, 8, 50)
  assert {k: len(s) for k, s in analysis['shape'].items()} == {'conv1': 16, 'conv2': 16}
  assert analysis['lenet5']['C3']['params'] == 1_516
  for name in (
    'accuracy_by_iteration.png',
    'confusion_caffe_lenet.png',
    'confusion_caffe_lenet.csv',
    'feature_maps_conv1.png',
    'feature_maps_conv2.png',
    'report.md',
  ):
    assert (workdir / name).is_file(), name

  image = tmp_path / 'digit.png'
  ink = np.zeros((120, 90), np.uint8)
  ink[10:110, 40:52] = 255  # a tall stroke, light on dark
  Image.fromarray(ink).save(image)
  (tmp_path / 'empty.png').write_bytes(b'')
  answers = dict(lenet_mnist.classify([str(image), str(tmp_path / 'empty.png')], str(workdir)))
  (d1, p1), (d2, p2) = answers[str(image)]
  assert d1 != d2 and 1.0 >= p1 >= p2 >= 0.0
  assert 'not a readable image' in answers[str(tmp_path / 'empty.png')]
