"""Depth vs width: the splits, a selection blind to the test set, the rows on synthetic records,
and the quick run end to end (search, selection, retraining through the engine, resume)."""

import json
import os

import numpy as np
import pytest

from engine import files, run
from experiments import depth_vs_width as dw

DROP, DECAY = 'model.dropout_rate', 'optimizer.decay_rate'


def test_splits_spend_the_whole_budget_larger_layers_first():
  assert dw.split(100, 3) == (34, 33, 33)
  assert dw.split(200, 3) == (67, 67, 66)
  assert dw.split(1000, 4) == (250,) * 4
  hidden = dw.get_config().sweep.model.hidden
  assert len(hidden) == 12
  assert sorted({(sum(h), len(h)) for h in hidden}) == [
    (b, d) for b in (100, 200, 1000) for d in (1, 2, 3, 4)
  ]


def _record(hidden, drop, decay, *, val, test, epoch=7, seed=0, val_loss=None):
  """A search model as the loop records it, with early stopping's kept epoch."""
  kept = {
    'val_accuracy': val,
    'val_loss': 1 - val if val_loss is None else val_loss,
    'test_accuracy': test,
  }
  return {
    'point': {dw.HIDDEN: list(hidden), DROP: drop, DECAY: decay},
    'seed': seed,
    'diverged': False,
    'history': {'val_accuracy': [val] * 10},
    'final': {'val_accuracy': val - 0.01, 'val_loss': 0.5, 'test_accuracy': test - 0.01},
    'early_stopping': {'best_epoch': epoch, 'best': kept},
  }


def _search(base, per_layer=-0.002, test_offset=0.0):
  """Every default architecture at dropout 0 and 0.3: validation `base[budget]` at one layer,
  `per_layer` per extra layer, dropout 0.3 better by 0.001; test = validation + offset."""
  out = []
  for hidden in dw.get_config().sweep.model.hidden:
    for drop in (0.0, 0.3):
      acc = base[sum(hidden)] + per_layer * (len(hidden) - 1) + (0.001 if drop else 0.0)
      out.append(_record(hidden, drop, 1.0, val=acc, test=acc + test_offset))
  return out


def _retrained(*accs):
  return [
    {'seed': 1000 + i, 'diverged': False, 'final': {'test_accuracy': a}, 'history': {}}
    for i, a in enumerate(accs)
  ]


def _results(search, retrained, *, dataset='mnist', standin=False):
  config = dw.get_config()
  config.dataset.name = dataset
  return {
    'config': config.to_dict(),
    'records': search,
    'seeds': 1,
    'dataset': {'name': dataset, 'standin': standin},
    'analysis': dw.analysis_of(search, config, retrained, 10000),
  }


def _rows(verdict):
  return {c.id: c for c in verdict.claims}


BASE = {100: 0.976, 200: 0.980, 1000: 0.984}


def test_the_selection_reads_validation_only():
  """Test accuracy ranks the points the other way round; the pick follows validation, and
  blanking every test number changes nothing."""
  records = [
    _record((100,), 0.0, 1.0, val=0.978, test=0.970, epoch=9),
    _record((100,), 0.3, 1.0, val=0.975, test=0.990, epoch=4),
    _record((50, 50), 0.0, 1.0, val=0.976, test=0.985),
  ]
  pick = dw.select(records, 100)
  assert pick.point[DROP] == 0.0 and pick.hidden == (100,) and pick.epochs == 9
  for r in records:
    r['early_stopping']['best']['test_accuracy'] = None
    r['final']['test_accuracy'] = None
  assert dw.select(records, 100) == pick
  assert dw.select(records, 100, depth=2).hidden == (50, 50)
  assert dw.select(records, 200) is None


def test_the_selection_averages_search_seeds_and_breaks_ties_on_validation_loss():
  records = [
    _record((100,), 0.0, 1.0, val=0.980, test=0.9, seed=0, epoch=5),
    _record((100,), 0.0, 1.0, val=0.970, test=0.9, seed=1, epoch=9),  # mean 0.975
    _record((100,), 0.3, 1.0, val=0.976, test=0.9, val_loss=0.09),
    _record((100,), 0.3, 0.5, val=0.976, test=0.9, val_loss=0.08),
  ]
  pick = dw.select(records, 100)
  assert (pick.point[DROP], pick.point[DECAY], pick.seeds) == (0.3, 0.5, 1)
  records[1]['early_stopping']['best']['val_accuracy'] = 0.978  # mean 0.979 now wins
  pick = dw.select(records, 100)
  assert (pick.point[DROP], pick.seeds, pick.epochs) == (0.0, 2, 7)


def test_bars_reached_by_the_mean_hold_and_width_raising_accuracy_holds():
  results = _results(
    _search(BASE),
    {
      100: _retrained(0.9760, 0.9772, 0.9755),
      200: _retrained(0.9810, 0.9805, 0.9815),
      1000: _retrained(0.9840, 0.9850, 0.9835),
    },
  )
  verdict = dw.verdict(results)
  rows = _rows(verdict)
  assert verdict.outcome == 'REPRODUCED', verdict.claims
  assert [rows[q].result for q in ('002 2D', '002 2E', '002 2F', '001 T/F 3')] == ['HOLDS'] * 4
  assert rows['002 2D'].document == '0.9762 (one run)'
  assert 'worst 0.9755, best 0.9772; 3 seeds' in rows['002 2D'].measured
  assert '100 (1 layer), dropout 0.3, adam 0.001, batch 128, 7 epoch(s)' in rows['002 2D'].measured
  assert [r['bar reached by'] for r in verdict.table] == ['the mean'] * 3
  assert verdict.table[2]["document's single run (MNIST)"] == '0.9832'
  assert verdict.table[2]['worst seed'] == '0.9835'
  assert verdict.table[0]['search: best val acc by depth'].startswith('1: 0.9770, 2: 0.9750')


def test_a_bar_reached_by_the_best_seed_only_or_by_none_does_not_hold():
  results = _results(
    _search(BASE),
    {
      100: _retrained(0.9760, 0.9772, 0.9755),
      200: _retrained(0.9790, 0.9785, 0.9805),  # mean 0.9793 < 0.98 <= best seed
      1000: _retrained(0.9820, 0.9810, 0.9825),  # no seed reaches 0.983
    },
  )
  verdict = dw.verdict(results)
  rows = _rows(verdict)
  assert verdict.outcome == 'NOT REPRODUCED'
  assert [rows[q].result for q in ('002 2D', '002 2E', '002 2F')] == [
    'HOLDS',
    'DOES NOT HOLD',
    'DOES NOT HOLD',
  ]
  assert 'only the best seed reaches 0.98' in rows['002 2E'].measured
  assert 'only the best seed' not in rows['002 2F'].measured
  assert 'cap' not in rows['002 2E'].measured
  assert [r['bar reached by'] for r in verdict.table] == [
    'the mean',
    'the best seed only',
    'no seed',
  ]


def test_a_pick_whose_best_epoch_is_the_search_cap_says_so():
  search = _search(BASE)
  for r in search:
    r['early_stopping']['best_epoch'] = 15  # every model still improving at the last epoch
  three = {b: _retrained(0.99, 0.99, 0.99) for b in BASE}
  v = dw.verdict(_results(search, three))
  row = _rows(v)['002 2D']
  assert row.result == 'HOLDS'
  assert 'its best search epoch is the cap of 15, so longer training was not searched' in (
    row.measured
  )
  assert v.table[0]['chosen on validation'].endswith('15 epoch(s) (the cap)')


def test_width_within_the_noise_does_not_hold():
  """One layer gains 0.002 from 100 to 1000 units: below 2 SE of a single-seed difference."""
  retrained = {b: _retrained(0.99, 0.99, 0.99) for b in BASE}
  flat = dw.verdict(_results(_search({100: 0.980, 200: 0.981, 1000: 0.982}), retrained))
  row = _rows(flat)['001 T/F 3']
  assert row.result == 'DOES NOT HOLD' and row.document == 'F'
  assert row.measured.endswith('so this run does not show it False')
  assert abs(row.value - 0.002) < 1e-9
  margin = dw.width_margin(0.982, 10000, 0.0, 2.0)  # p: the mean of the two accuracies
  assert abs(margin - 2 * np.sqrt(2 * 0.982 * 0.018 / 10000)) < 1e-12
  assert f'({margin:.4f}: n_test 10000, seed std 0.0000)' in row.threshold
  # seed noise widens the margin: a 0.006 gain holds with identical seeds, not with noisy ones
  wide = _search({100: 0.978, 200: 0.981, 1000: 0.984})
  assert _rows(dw.verdict(_results(wide, retrained)))['001 T/F 3'].result == 'HOLDS'
  noisy = {b: _retrained(0.985, 0.990, 0.995) for b in BASE}
  assert _rows(dw.verdict(_results(wide, noisy)))['001 T/F 3'].result == 'DOES NOT HOLD'


def test_the_width_row_reads_the_test_accuracy_of_the_point_chosen_on_validation():
  """At one layer and 1000 units the validation-best point has the lower test accuracy; the row
  must use it, not the better-testing point."""
  search = _search({100: 0.978, 200: 0.981, 1000: 0.984})
  for r in search:
    if r['point'][dw.HIDDEN] == [1000] and r['point'][DROP] == 0.0:
      r['early_stopping']['best']['test_accuracy'] = 0.999  # the worse point on validation
  retrained = {b: _retrained(0.99, 0.99, 0.99) for b in BASE}
  row = _rows(dw.verdict(_results(search, retrained)))['001 T/F 3']
  assert '1000 units 0.9850' in row.measured


def test_too_few_seeds_stand_in_data_or_another_dataset():
  few = {b: _retrained(0.99, 0.99) for b in BASE}
  v = dw.verdict(_results(_search(BASE), few))
  assert v.outcome == 'INCONCLUSIVE'
  assert _rows(v)['002 2D'].shown == 'INCONCLUSIVE (this run: HOLDS)'
  three = {b: _retrained(0.99, 0.99, 0.99) for b in BASE}
  assert dw.verdict(_results(_search(BASE), three, standin=True)).outcome == 'INCONCLUSIVE'
  fashion = dw.verdict(_results(_search(BASE), three, dataset='fashion_mnist'))
  rows = _rows(fashion)
  assert rows['002 2D'].result == 'NOT APPLICABLE'
  assert 'this run used fashion_mnist' in rows['002 2D'].measured
  assert rows['001 T/F 3'].result == 'HOLDS'
  assert 'fashion_mnist test acc, retrained (mean ± std)' in fashion.table[0]
  assert fashion.table[0]["document's single run (MNIST)"] == '0.9762'


def test_a_budget_with_nothing_searched_is_inconclusive():
  search = [r for r in _search(BASE) if sum(r['point'][dw.HIDDEN]) != 200]
  retrained = {100: _retrained(0.98, 0.98, 0.98), 1000: _retrained(0.99, 0.99, 0.99)}
  v = dw.verdict(_results(search, retrained))
  assert _rows(v)['002 2E'].result == 'INCONCLUSIVE'
  assert v.outcome == 'INCONCLUSIVE'


def test_the_retraining_config_trains_the_pick_on_every_image_for_its_search_steps():
  c = dw.get_config()
  pick = dw.select(_search(BASE), 1000)
  rc = dw.retrain_config(c, pick, 55000)
  assert tuple(rc.model.hidden) == (1000,) and rc.model.dropout_rate == 0.3
  assert rc.dataset.validation_size == 0 and rc.dataset.train_subset == 0
  assert (rc.train.epochs, rc.train.steps_per_epoch) == (7, 55000 // 128)
  assert (rc.seeds, rc.seed) == (3, 1000)
  assert rc.early_stopping.rule == 'none' and not rc.sweep
  quick = dw.get_config('quick')
  assert dw.retrain_config(quick, pick, 3000).dataset.train_subset == 3500


def test_quick_run_searches_selects_on_validation_retrains_and_resumes(
  shared_datasets, tmp_path, capsys
):
  c = dw.get_config('quick')
  c.dataset.data_dir = shared_datasets
  c.dataset.allow_standin = False
  dw.validate(c)
  results = run.run(dw, c, str(tmp_path), progress=False, command='test')
  records = results['records']
  assert {tuple(r['point'][dw.HIDDEN]) for r in records} == set(c.sweep.model.hidden)
  assert len(records) == 3 and len({r['group'] for r in records}) == 3
  entries = {e['budget']: e for e in results['analysis']['budgets']}
  for budget in (16, 64):
    pick = dw.select(records, budget)
    assert entries[budget]['pick'] == pick._asdict()
    retrained = entries[budget]['retrained']
    assert [r['seed'] for r in retrained] == [1000, 1001]
    assert all(len(r['history']['test_accuracy']) == pick.epochs for r in retrained)
    assert all(x is None for r in retrained for x in r['history']['val_accuracy'])
    assert all(0.1 < r['final']['test_accuracy'] <= 1.0 for r in retrained)
    sub = tmp_path / dw.RETRAIN_DIR / f'budget_{budget}'
    sub_results = files.read_json(str(sub / 'results.json'))
    assert '3500 train / 0 val / 1000 test' in sub_results['dataset']['describe']
    assert sub_results['config']['train']['steps_per_epoch'] == 3000 // 128
  assert [len(entries[b]['depths']) for b in (16, 64)] == [2, 1]
  rows = _rows(dw.verdict(results))
  assert rows['001 T/F 3'].value is not None
  assert results['verdict']['outcome'] == 'INCONCLUSIVE'  # 2 retraining seeds, 3 needed
  assert os.path.exists(tmp_path / 'depth_vs_width.png')
  capsys.readouterr()
  again = run.run(dw, c, str(tmp_path), progress=False, command='test')
  out = capsys.readouterr().out
  assert 'epoch 1/' not in out and out.count('finished earlier; not trained again') == 5
  assert json.loads(json.dumps(again['analysis'])) == json.loads(json.dumps(results['analysis']))


def test_bad_configs_are_refused():
  c = dw.get_config()
  c.sweep.model.hidden = ((100,), (0, 5))
  with pytest.raises(Exception, match='positive layer widths'):
    dw.validate(c)
  c = dw.get_config()
  c.model.dropout = False
  with pytest.raises(Exception, match='would be ignored'):
    dw.validate(c)
  c.sweep.model.dropout_rate = (0.0,)
  dw.validate(c)
  c.verdict.bars = (0.975, 0.98)
  with pytest.raises(Exception, match='one entry per budget'):
    dw.validate(c)
  c = dw.get_config()
  c.retrain.seeds = 0
  with pytest.raises(Exception, match=r'retrain\.seeds'):
    dw.validate(c)
