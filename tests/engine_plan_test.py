"""The plan: the config resolved into the numbers the loop reads, and its periodic helper."""

import pytest
from conftest import tiny_config

from engine import base_config, periodic, plan, sweep
from engine.errors import UserError


def test_a_plan_holds_the_resolved_numbers():
  c = tiny_config()
  c.train.steps_per_call = 5
  [group] = sweep.groups(c)
  p = plan.resolve(group, 1024)
  assert (p.epochs, p.batch_size, p.steps_per_epoch, p.steps_per_call) == (2, 64, 16, 5)
  assert p.order == 'shuffled' and p.probe_every_steps == 0 and p.early_stopping is None
  assert p.layout.models == 4 and p.dropout  # 2 rates (one non-zero) x 2 seeds


def test_probe_every_steps_caps_the_steps_per_call_only_with_a_probe():
  c = tiny_config()
  c.train.probe_every_steps = 4
  [group] = sweep.groups(c)
  assert plan.resolve(group, 1024).steps_per_call == 16  # no probe: the whole epoch
  with_probe = plan.resolve(group, 1024, probe=True)
  assert with_probe.steps_per_call == 4 and with_probe.probe_every_steps == 4


def test_no_dropout_masks_when_every_rate_is_zero():
  c = tiny_config()
  c.sweep.model.dropout_rate = (0.0,)
  [group] = sweep.groups(c)
  assert not plan.resolve(group, 1024).dropout


def test_bad_train_options_are_refused_when_resolving():
  c = tiny_config()
  c.train.order = 'by_label'
  [group] = sweep.groups(c)
  with pytest.raises(UserError, match='not a data order'):
    plan.resolve(group, 1024)


def test_periodic_fires_by_steps_and_by_time():
  now = [0.0]
  every = periodic.Every(steps=5, seconds=10.0, clock=lambda: now[0])
  assert [s for s in range(1, 12) if every.due(s)] == [5, 10]
  now[0] = 10.5
  assert every.due()
  every.reset()
  assert not every.due()
  always = periodic.Every(seconds=0.0, clock=lambda: now[0])
  now[0] += 1e-6
  assert always.due() and not periodic.Every().due(3)


def test_the_base_config_gives_the_engine_keys_a_finding_extends():
  c = base_config.get_config()
  assert {
    'dataset',
    'train',
    'early_stopping',
    'sweep',
    'seeds',
    'seed',
    'sweep_max_models',
    'parallel',
    'checkpoint_every_secs',
  } <= set(c)
  assert c.early_stopping.rule == 'none' and c.train.order == 'shuffled'
