"""Command-line overrides `--config.a.b=value`, typed against the experiment's own config.

Parsed here rather than by absl so that every mistake (an unknown key, a value of the wrong
type) ends in a one-paragraph message with a "did you mean", not a traceback.
"""
import ast
import difflib

from engine import sweep
from engine.errors import UserError

PREFIX = '--config.'
_TRUE, _FALSE = ('true', '1', 'yes', 'on'), ('false', '0', 'no', 'off')


def split_argv(argv):
  """Separates `--config.KEY=VALUE` arguments from the rest; returns (rest, [(key, text)])."""
  rest, pairs = [], []
  for arg in argv:
    if arg.startswith(PREFIX):
      key, sep, text = arg[len(PREFIX):].partition('=')
      if not sep:
        raise UserError(f'The override {arg!r} has no value. Write it as {arg}=VALUE (one argument, '
                        'with "="), e.g. --config.train.epochs=2.')
      pairs.append((key, text))
    else:
      rest.append(arg)
  return rest, pairs


def _describe(value) -> str:
  return {bool: 'a boolean (true/false)', int: 'an integer', float: 'a number',
          str: 'a string'}.get(type(value), f'a {type(value).__name__}')


def _parse_scalar(key, text, current):
  kind = type(current)
  try:
    if kind is bool:
      low = text.strip().lower()
      if low in _TRUE or low in _FALSE:
        return low in _TRUE
      raise ValueError
    if kind is int:
      return int(text)
    if kind is float:
      return float(text)
    if kind is str:
      return text
    if current is None:
      try:
        return ast.literal_eval(text)
      except (ValueError, SyntaxError):
        return text
  except ValueError:
    pass
  raise UserError(f'--config.{key} expects {_describe(current)} (its default is {current!r}); '
                  f'got {text!r}. Pass e.g. --config.{key}={current!r}.')


def _parse_sequence(key, text, current):
  try:
    value = ast.literal_eval(text.strip())
  except (ValueError, SyntaxError):
    value = None if ',' in text or text.strip().startswith(('(', '[')) else text
  if value is None:
    raise UserError(f'--config.{key} expects a tuple such as {tuple(current)!r}; could not read '
                    f'{text!r}. Quote it for the shell: --config.{key}="(0.1,0.5)".')
  if not isinstance(value, (tuple, list)):
    value = (value,)
  if current:
    sample = current[0]
    out = []
    for item in value:
      if isinstance(sample, float) and isinstance(item, int) and not isinstance(item, bool):
        item = float(item)
      if type(item) is not type(sample):
        raise UserError(f'--config.{key} holds {_describe(sample)} values (default '
                        f'{tuple(current)!r}); got {item!r} in {text!r}.')
      out.append(item)
    value = out
  return tuple(value)


def apply(config, pairs):
  """Sets each `(dotted key, text)` on `config` (in place), typed like the current value."""
  for key, text in pairs:
    *parents, leaf = key.split('.')
    node = config
    for depth, p in enumerate(parents + [leaf]):
      if p not in node:
        known = sorted(sweep.flatten(config))
        close = difflib.get_close_matches(key, known, n=3)
        hint = f' Did you mean {" or ".join("--config." + c for c in close)}?' if close else ''
        raise UserError(f'Unknown config key --config.{key}.{hint} The keys this experiment '
                        'takes are shown by --show_config.')
      if depth < len(parents):
        node = node[p]
    current = node[leaf]
    if hasattr(current, 'items'):
      raise UserError(f'--config.{key} is a section, not a value; set one of its keys, e.g. '
                      f'--config.{key}.{next(iter(current))}=...')
    if isinstance(current, (tuple, list)):
      node[leaf] = _parse_sequence(key, text, current)
    else:
      node[leaf] = _parse_scalar(key, text, current)
  return config
