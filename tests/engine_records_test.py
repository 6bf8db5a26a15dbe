"""The records pivot and the one 'mean ± std', on hand-made records with known answers."""

import math

import numpy as np
import pytest

from engine import records as rs


def _record(rate, width, seed, acc, diverged=False, group='g0', curve=None):
  return {
    'point': {'model.dropout_rate': rate, 'model.hidden': [width, width]},
    'seed': seed,
    'label': f'rate={rate}',
    'group': group,
    'diverged': diverged,
    'history': {'test_accuracy': curve or [None, acc]},
    'final': {'test_accuracy': acc},
  }


RECORDS = [
  _record(0.5, 8, 0, 0.90),
  _record(0.1, 8, 0, 0.97),
  _record(0.5, 4, 1, 0.88),
  _record(0.1, 4, 1, 0.95),
  _record(0.5, 8, 2, float('nan'), diverged=True),
]


def test_a_dotted_key_groups_sorted_and_leaves_diverged_models_out():
  groups = rs.group_by(RECORDS, 'model.dropout_rate')
  assert list(groups) == [0.1, 0.5]
  assert [r['seed'] for r in groups[0.5]] == [0, 1]
  kept = rs.group_by(RECORDS, 'model.dropout_rate', include_diverged=True)
  assert [r['seed'] for r in kept[0.5]] == [0, 1, 2]


def test_a_tuple_of_keys_gives_tuple_keys_with_lists_read_as_tuples():
  groups = rs.group_by(RECORDS, ('model.dropout_rate', 'model.hidden'))
  assert list(groups) == [(0.1, (4, 4)), (0.1, (8, 8)), (0.5, (4, 4)), (0.5, (8, 8))]
  assert [r['seed'] for r in groups[(0.5, (8, 8))]] == [0]


def test_a_function_key_and_a_function_value():
  width = lambda r: r['point']['model.hidden'][0]
  assert list(rs.group_by(RECORDS, width)) == [4, 8]
  errors = rs.by_point(RECORDS, width, lambda r: 1 - r['final']['test_accuracy'])
  np.testing.assert_allclose(errors[8], [0.10, 0.03])


def test_by_point_gives_arrays_of_final_values_or_curves():
  acc = rs.by_point(RECORDS, 'model.dropout_rate', 'test_accuracy')
  assert list(acc) == [0.1, 0.5] and acc[0.5].dtype == np.float64
  np.testing.assert_array_equal(acc[0.1], [0.97, 0.95])
  np.testing.assert_array_equal(acc[0.5], [0.90, 0.88])
  with_diverged = rs.by_point(RECORDS, 'model.dropout_rate', 'test_accuracy', include_diverged=True)
  assert len(with_diverged[0.5]) == 3 and np.isnan(with_diverged[0.5][2])
  curves = rs.by_point(RECORDS, 'model.dropout_rate', lambda r: r['history']['test_accuracy'])
  assert curves[0.1].shape == (2, 2)
  assert np.isnan(curves[0.1][:, 0]).all()  # None in a history is NaN
  np.testing.assert_array_equal(curves[0.1][:, 1], [0.97, 0.95])


def test_group_indices_count_within_each_group_in_order():
  records = [_record(0.1, 4, s, 0.9, group=g) for s, g in enumerate('abbaa')]
  assert rs.group_indices(records) == [0, 0, 1, 1, 2]


def test_stats_use_the_sample_std():
  s = rs.stats([1.0, 2.0, 4.0])
  mean = 7 / 3
  sample_var = ((1 - mean) ** 2 + (2 - mean) ** 2 + (4 - mean) ** 2) / 2  # n - 1
  assert s.mean == pytest.approx(mean)
  assert s.std == pytest.approx(math.sqrt(sample_var))  # 1.5275, not ddof=0's 1.2472
  assert (s.min, s.max, s.spread, s.n) == (1.0, 4.0, 3.0, 3)


def test_one_value_has_std_zero_and_nan_or_none_are_left_out():
  assert rs.stats([0.25]) == rs.Stats(0.25, 0.0, 0.25, 0.25, 1)
  assert rs.stats([0.25, float('nan'), None]) == rs.Stats(0.25, 0.0, 0.25, 0.25, 1)
  s = rs.stats([1.0, np.nan, 3.0])
  assert s.n == 2 and s.mean == 2.0 and s.std == pytest.approx(math.sqrt(2))
  empty = rs.stats([])
  assert empty.n == 0 and math.isnan(empty.mean) and math.isnan(empty.std)
  assert math.isnan(rs.spread([]))
  assert rs.spread([0.9, 0.95, 0.92]) == pytest.approx(0.05)


def test_format_is_mean_plus_minus_std_to_the_digits_asked():
  assert rs.stats([1.0, 2.0, 4.0]).format(3) == '2.333 ± 1.528'
  assert rs.stats([0.97]).format() == '0.9700 ± 0.0000'
