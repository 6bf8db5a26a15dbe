"""data_order: the quick run's per-step trace and what sorted order does to the bias."""

import numpy as np
import pytest

from engine import run
from experiments import data_order


@pytest.fixture(scope='module')
def quick(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('data_order')
  config = data_order.get_config('quick')
  return run.run(data_order, config, str(workdir), progress=False), workdir


def test_every_step_is_probed(quick):
  results, _ = quick
  per_pass, last_negative = data_order._pass_steps(results['config'])
  assert per_pass == 50 and 0 < last_negative < per_pass
  for r in results['records']:
    assert r['trace']['step'] == list(range(1, 2 * per_pass + 1))
    assert all(0.0 <= d <= 1.0 for d in r['trace']['dead_fraction'])


def test_sorted_order_pushes_the_bias_down_through_the_negatives(quick):
  results, _ = quick
  per_pass, last_negative = data_order._pass_steps(results['config'])
  for r in results['records']:
    bias = np.array(r['trace']['output_bias'])
    recall = np.array(r['trace']['positive_recall'])
    if r['point'][data_order.ORDER] == data_order.SORTED:
      assert (np.diff(bias[:last_negative]) < 0).all()  # every negative lowers it
      assert (np.diff(bias[last_negative:per_pass]) > 0).all()  # every positive raises it
      assert recall[last_negative - 1] == 0.0


def test_the_quick_run_reports_and_draws(quick):
  results, workdir = quick
  verdict = data_order.verdict(results)
  assert verdict.outcome == 'INCONCLUSIVE'  # 2 seeds
  assert len(verdict.claims) == 4 and len(verdict.table) == 2
  assert (workdir / 'bias_and_dead_relus.png').stat().st_size > 10000
