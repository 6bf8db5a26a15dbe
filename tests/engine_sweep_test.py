"""Grid expansion and grouping: runtime numbers share a program, anything else does not."""

import pytest
from conftest import tiny_config

from engine import sweep
from engine.errors import UserError


def test_grid_is_the_product_in_declaration_order():
  c = tiny_config(**{'optimizer.learning_rate': (0.1, 0.01)})
  pts = sweep.points(c)
  assert pts == [
    {'model.dropout_rate': 0.0, 'optimizer.learning_rate': 0.1},
    {'model.dropout_rate': 0.0, 'optimizer.learning_rate': 0.01},
    {'model.dropout_rate': 0.5, 'optimizer.learning_rate': 0.1},
    {'model.dropout_rate': 0.5, 'optimizer.learning_rate': 0.01},
  ]


def test_runtime_numbers_form_one_group_other_keys_split():
  c = tiny_config(**{'optimizer.learning_rate': (0.1, 0.01)})
  assert len(sweep.groups(c)) == 1
  c = tiny_config(**{'model.activation': ('relu', 'tanh')})
  gs = sweep.groups(c)
  assert len(gs) == 2
  assert [g.config.model.activation for g in gs] == ['relu', 'tanh']
  assert all(len(g.points) == 2 for g in gs)


def test_group_size_cap_counts_models_not_points():
  c = tiny_config()
  c.sweep.model.dropout_rate = (0.0, 0.1, 0.2, 0.3, 0.4)
  gs = sweep.groups(c, max_models=4)  # 2 seeds -> 2 points per group
  assert [len(g.points) for g in gs] == [2, 2, 1]
  assert all(g.seeds == (0, 1) for g in gs)
  gs = sweep.groups(c, max_models=1)  # one model per group: seeds split too
  assert len(gs) == 10
  assert [(g.points[0]['model.dropout_rate'], g.seeds) for g in gs[:3]] == [
    (0.0, (0,)),
    (0.0, (1,)),
    (0.1, (0,)),
  ]


def test_apply_point_sets_nested_values_without_touching_the_base():
  c = tiny_config()
  cfg = sweep.apply_point(c, {'model.dropout_rate': 0.5})
  assert cfg.model.dropout_rate == 0.5 and c.model.dropout_rate == 0.0


def test_unknown_sweep_axis_suggests_the_key():
  c = tiny_config()
  c.sweep.model.dropout = (0.1,)
  with pytest.raises(UserError, match=r'Did you mean `model\.dropout_rate`'):
    sweep.points(c)
