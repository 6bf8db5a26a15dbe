"""Typed --config overrides and their error messages."""
import pytest

from conftest import tiny_config
from engine import overrides
from engine.errors import UserError


def test_split_argv_takes_out_config_pairs():
  rest, pairs = overrides.split_argv(['launch.py', '--experiment=x', '--config.train.epochs=3'])
  assert rest == ['launch.py', '--experiment=x']
  assert pairs == [('train.epochs', '3')]


def test_values_are_typed_like_the_defaults():
  c = overrides.apply(tiny_config(), [
      ('train.epochs', '3'), ('optimizer.learning_rate', '1e-2'), ('model.activation', 'tanh'),
      ('model.batch_norm', 'true'), ('model.hidden', '(8, 4)'),
      ('sweep.model.dropout_rate', '(0, 0.5)')])
  assert c.train.epochs == 3 and isinstance(c.train.epochs, int)
  assert c.optimizer.learning_rate == 0.01
  assert c.model.activation == 'tanh' and c.model.batch_norm is True
  assert c.model.hidden == (8, 4)
  assert c.sweep.model.dropout_rate == (0.0, 0.5)
  assert isinstance(c.sweep.model.dropout_rate[0], float)


@pytest.mark.parametrize('key,text,message', [
    ('train.epoch', '2', 'Did you mean --config.train.epochs'),
    ('train.epochs', 'two', 'expects an integer'),
    ('train.epochs', '2.5', 'expects an integer'),
    ('model.batch_norm', 'maybe', 'expects a boolean'),
    ('model.hidden', '(8, 0.5)', 'holds an integer values'),
    ('sweep.model.dropout_rate', '(0.1,x)', 'could not read'),
    ('train', '3', 'is a section'),
])
def test_mistakes_get_a_message_naming_the_fix(key, text, message):
  with pytest.raises(UserError, match=message):
    overrides.apply(tiny_config(), [(key, text)])


def test_override_without_value_is_refused():
  with pytest.raises(UserError, match='has no value'):
    overrides.split_argv(['--config.train.epochs'])
