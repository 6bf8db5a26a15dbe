"""data_order: the quick run's per-step trace on the Playground network; the rows' logic."""

import ml_collections
import numpy as np
import pytest

from engine import run
from engine import verdict as v
from experiments import data_order as do

RATES = (0.03, 3.0)


@pytest.fixture(scope='module')
def quick(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('data_order')
  config = do.get_config('quick')
  return run.run(do, config, str(workdir), progress=False), workdir


def test_every_step_is_probed(quick):
  results, _ = quick
  layout = do.pass_layout(results['config'])
  assert layout.per_pass == 5 and 0 < layout.only_negatives < layout.per_pass
  assert layout.negatives + layout.positives == 50
  for r in results['records']:
    assert r['trace']['step'] == list(range(1, 2 * layout.per_pass + 1))
    assert all(0.0 <= d <= 1.0 for d in r['trace']['dead_fraction'])
    assert set(r['trace']['layer_dead']) <= {0.0, 1.0}


def test_sorted_order_pushes_the_bias_down_through_the_negatives(quick):
  results, _ = quick
  layout = do.pass_layout(results['config'])
  seen = 0
  for r in results['records']:
    if r['point'][do.ORDER] != do.SORTED:
      continue
    bias = np.array(r['trace']['output_bias'])
    # The first step starts from the Playground's 0.1; with t = -1 the bias gradient
    # (y + 1)(1 - y^2) is >= 0, so every all-negative batch lowers the bias.
    assert bias[0] < 0.1
    assert (np.diff(bias[: layout.only_negatives]) < 0).all()
    assert r['trace']['negatives_correct'][layout.only_negatives - 1] <= 1.0
    seen += 1
  assert seen == len(RATES) * results['seeds']


def test_the_quick_run_reports_and_draws(quick):
  results, workdir = quick
  verdict = do.verdict(results)
  assert verdict.outcome == v.INCONCLUSIVE  # 2 seeds
  assert [c.id for c in verdict.claims] == [f'002 1C ({p})' for p in do.DOCUMENT]
  assert len(verdict.table) == 2 * len(RATES)
  assert (workdir / 'data_order_first_passes.png').stat().st_size > 10000
  assert (workdir / 'data_order_whole_run.png').exists()


def _traces(steps, *, dies_when_shuffled=False, positives_labelled=False):
  """Synthetic traces of 10 seeds at two rates: the document's story, unless told otherwise."""
  seeds = 10
  t = {m: {} for m in do.METRICS}
  for order in (do.SHUFFLED, do.SORTED):
    for rate in RATES:
      key = (order, rate)
      story = order == do.SORTED
      t['output_bias'][key] = np.full((seeds, steps), -2.0 if story else 0.1)
      t['input_term_max'][key] = np.full((seeds, steps), 0.5)
      t['negatives_correct'][key] = np.full((seeds, steps), 1.0 if story else 0.5)
      t['positive_recall'][key] = np.full(
        (seeds, steps), 0.0 if story and not positives_labelled else 0.9
      )
      dead = story or dies_when_shuffled
      t['dead_fraction'][key] = np.full((seeds, steps), 1.0 if dead else 0.0)
      t['layer_dead'][key] = np.full((seeds, steps), 1.0 if dead else 0.0)
  return t


CFG = ml_collections.ConfigDict(do.get_config().verdict)
LAYOUT = do.PassLayout(per_pass=25, only_negatives=12, negatives=125, positives=125)


def test_rows_hold_when_every_part_shows_at_every_rate():
  rows = do.claims(_traces(50), LAYOUT, CFG)
  assert [r.result for r in rows] == [v.HOLDS] * 4
  assert 'holds at every learning rate' in rows[0].measured


def test_a_part_that_fails_at_one_rate_does_not_hold_and_says_where():
  t = _traces(50)
  t['positive_recall'][(do.SORTED, 0.03)][:, 15] = 0.6  # labelled positive inside the block
  rows = {r.id: r for r in do.claims(t, LAYOUT, CFG)}
  row = rows['002 1C (positives)']
  assert row.result == v.DOES_NOT_HOLD
  assert 'holds at lr 3; not at 0.03' in row.measured
  assert '0.03: 0/10' in row.measured
  assert rows['002 1C (bias)'].result == v.HOLDS


def test_a_bias_the_inputs_outweigh_is_not_heavy():
  t = _traces(50)
  t['input_term_max'][(do.SORTED, 3.0)][:, LAYOUT.only_negatives - 1] = 2.5
  rows = {r.id: r for r in do.claims(t, LAYOUT, CFG)}
  assert rows['002 1C (bias)'].result == v.DOES_NOT_HOLD


def test_dying_in_both_orders_is_not_put_down_to_the_order():
  rows = {r.id: r for r in do.claims(_traces(50, dies_when_shuffled=True), LAYOUT, CFG)}
  assert rows['002 1C (dead)'].result == v.DOES_NOT_HOLD
  assert rows['002 1C (learning)'].result == v.DOES_NOT_HOLD
  assert 'shuffled: 0.03: 10/10' in rows['002 1C (dead)'].measured


def test_eight_of_ten_seeds_hold_seven_do_not():
  passed = {(do.SORTED, 0.1): np.arange(10) < 8, (do.SORTED, 1.0): np.arange(10) < 7}
  assert do.judge(passed, CFG, against_shuffled=False) == {0.1: True, 1.0: False}


def test_verdict_from_synthetic_records():
  """The whole verdict path on records shaped as the run writes them."""
  config = do.get_config('quick')
  config.seeds = 10
  layout = do.pass_layout(config.to_dict())
  steps = 2 * layout.per_pass
  t = _traces(steps, positives_labelled=True)
  records = []
  for order, rate in t['output_bias']:
    for seed in range(10):
      trace = {'step': list(range(1, steps + 1))}
      trace.update({m: list(t[m][(order, rate)][seed]) for m in do.METRICS})
      final = {'train_accuracy': 0.5, 'test_accuracy': 0.5, 'test_loss': 0.5}
      records.append(
        {
          'point': {do.ORDER: order, do.LR: rate},
          'seed': seed,
          'diverged': False,
          'trace': trace,
          'final': final,
        }
      )
  results = {
    'config': config.to_dict(),
    'records': records,
    'seeds': 10,
    'dataset': {'name': 'circle', 'standin': False},
  }
  verdict = do.verdict(results)
  results_by_id = {c.id: c.result for c in verdict.claims}
  assert results_by_id['002 1C (positives)'] == v.DOES_NOT_HOLD
  assert results_by_id['002 1C (bias)'] == v.HOLDS
  assert verdict.outcome == v.NOT_REPRODUCED
  assert len(verdict.table) == 4
