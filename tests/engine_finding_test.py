"""The finding contract: what load accepts, and the error for each way a file breaks it."""

import textwrap

import pytest

import experiments
from engine import finding
from engine.errors import UserError

_GOOD = '''
"""A claim in one line.

More about it.
"""
import ml_collections

VARIANTS = ('quick',)


def get_config(variant=None):
  c = ml_collections.ConfigDict()
  c.n = 2 if variant == 'quick' else 5
  return c


def verdict(results):
  return results


def plot(results, workdir):
  return []
'''


def _write(tmp_path, text, name='my_finding.py'):
  path = tmp_path / name
  path.write_text(textwrap.dedent(text))
  return str(path)


def test_a_good_file_loads_with_its_hooks_and_variants(tmp_path):
  f = finding.load_file(_write(tmp_path, _GOOD))
  assert f.name == 'my_finding' and f.summary == 'A claim in one line.'
  assert f.plot is not None and f.measure is None and f.trains
  assert f.config().n == 5 and f.config('quick').n == 2


@pytest.mark.parametrize(
  'text,message',
  [
    (_GOOD.replace('def verdict(results)', 'def judge(results)'), 'defines no `verdict`'),
    (
      _GOOD.replace('def get_config(variant=None)', 'def make(variant=None)'),
      'defines no `get_config`',
    ),
    (
      _GOOD + '\ndef analyse(results, workdir):\n  return {}\n',
      'one letter away from the hook `analyze`',
    ),
    (_GOOD + '\ndef prbe(model, state, images, labels):\n  return {}\n', 'hook `probe`'),
    (
      _GOOD.replace('def plot(results, workdir)', 'def plot(results)'),
      'does not take the arguments',
    ),
    (_GOOD.replace('def get_config(variant=None)', 'def get_config()'), 'takes no variant'),
    (_GOOD + '\nraise RuntimeError("boom")\n', 'raised RuntimeError: boom'),
    (_GOOD + '\ndef (:\n', 'is not valid Python'),
  ],
)
def test_each_broken_file_is_one_error_naming_the_fix(tmp_path, text, message):
  with pytest.raises(UserError, match=message.replace('(', r'\(').replace(')', r'\)')):
    finding.load_file(_write(tmp_path, text))


def test_a_private_helper_near_a_hook_name_is_allowed(tmp_path):
  f = finding.load_file(_write(tmp_path, _GOOD + '\ndef _plot(x):\n  return x\n'))
  assert f.plot is not None


def test_missing_and_non_python_paths_are_refused(tmp_path):
  with pytest.raises(UserError, match='no such file'):
    finding.load_file(str(tmp_path / 'nope.py'))
  with pytest.raises(UserError, match='not a Python file'):
    finding.load_file(_write(tmp_path, 'x', name='notes.txt'))


def test_a_variant_the_file_does_not_offer_is_refused(tmp_path):
  f = finding.load_file(_write(tmp_path, _GOOD))
  with pytest.raises(UserError, match=r"no variant 'full'.*`:quick`"):
    f.config('full')


def test_get_config_must_return_a_config_dict(tmp_path):
  f = finding.load_file(_write(tmp_path, _GOOD.replace('  return c\n', '  return dict(c)\n')))
  with pytest.raises(UserError, match=r'not an ml_collections\.ConfigDict'):
    f.config()


@pytest.mark.parametrize(
  'a,b,close',
  [
    ('analyse', 'analyze', True),
    ('plto', 'plot', True),
    ('plots', 'plot', True),
    ('measur', 'measure', True),
    ('verdicts', 'verdict', True),
    ('plan', 'plot', False),
    ('prob', 'probe', True),
    ('analysis', 'analyze', False),
    ('plot', 'plot', False),
  ],
)
def test_one_edit_apart(a, b, close):
  assert finding._one_edit_apart(a, b) is close


def test_every_built_in_finding_meets_the_contract():
  for name in experiments.NAMES:
    f = experiments.get(name)
    assert f.name == name and 'quick' in f.variants and f.summary
    assert f.config('quick') is not None


def test_a_finding_may_import_a_helper_file_beside_it(tmp_path):
  (tmp_path / 'my_helpers.py').write_text('WIDTH = 7\n')
  text = _GOOD.replace('import ml_collections', 'import ml_collections\nimport my_helpers')
  text = text.replace('c.n = 2 if', 'c.width = my_helpers.WIDTH\n  c.n = 2 if')
  assert finding.load_file(_write(tmp_path, text)).config().width == 7
