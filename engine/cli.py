"""From the command line to a checked finding and its config.

`ml_collections.config_flags` does the parsing: `--config=FILE[:variant]` loads a finding file
and `--config.a.b=value` (or `--config.a.b value`, `--noconfig.a.b`, inside a `--flagfile` too)
overrides a key, typed by the library. Before absl parses, `prepare` turns `--experiment=NAME`
and `--quick` into that `--config` (first in argv, so every override follows it) and checks the
finding and every override key; after, `check_overrides` types tuple elements against the
defaults. Each mistake becomes a one-paragraph UserError, never a traceback.
"""

import dataclasses
import difflib
import re
import shlex

from absl import flags

import experiments
from engine import finding as finding_lib
from engine import sweep
from engine.errors import UserError

_OVERRIDE = re.compile(r'^--?(no)?config\.([^=\s]+)(=.*)?$', re.S)


@dataclasses.dataclass(frozen=True)
class Prepared:
  """What the command line asks for, before absl parses it."""

  argv: list  # for absl and config_flags: flagfiles expanded, --config first
  command: str  # the command as the user typed it, for the report
  finding: finding_lib.Finding | None  # None for --list, --experiment=all, or no finding at all
  variant: str | None
  default: object  # the finding's config before overrides (ConfigDict), or None


def _value(argv, i, name):
  """The value of `--name=v` or `--name v` at argv[i] and how many items it spans, else None."""
  arg = argv[i]
  for prefix in (f'--{name}=', f'-{name}='):
    if arg.startswith(prefix):
      return arg[len(prefix) :], 1
  if arg in (f'--{name}', f'-{name}'):
    if i + 1 >= len(argv):
      raise UserError(f'--{name} needs a value: --{name}=VALUE.')
    return argv[i + 1], 2
  return None


def command_line(argv) -> str:
  program = argv[0]
  head = ['python', program] if program.endswith('.py') else [program.rsplit('/', 1)[-1]]
  return shlex.join(head + list(argv[1:]))


def prepare(argv) -> Prepared:
  """Expands flagfiles, maps --experiment/--quick onto --config, loads and checks the finding."""
  command = command_line(argv)
  try:
    argv = flags.FLAGS.read_flags_from_files(list(argv), force_gnu=False)
  except flags.Error as e:
    raise UserError(f'Could not read the flag file: {e}. Check the --flagfile path.') from None
  rest, experiment, config_arg, quick = [argv[0]], None, None, False
  i = 1
  while i < len(argv):
    got = _value(argv, i, 'experiment')
    if got:
      experiment, span = got
      rest += argv[i : i + span]
      i += span
      continue
    got = _value(argv, i, 'config')
    if got:
      config_arg, span = got
      i += span
      continue
    if argv[i] in ('--quick', '-quick', '--quick=true', '--quick=1'):
      quick = True
    elif argv[i] in ('--noquick', '--quick=false', '--quick=0'):
      quick = False
    rest.append(argv[i])
    i += 1
  overrides = [a for a in rest if _OVERRIDE.match(a)]
  if experiment and config_arg:
    raise UserError(
      f'Pass either --experiment={experiment} (a built-in finding) or '
      f'--config={config_arg} (a finding file), not both.'
    )
  if experiments.is_job(experiment) and overrides:
    raise UserError(
      f'--experiment={experiment} runs each finding with its own default config in its own '
      'work dir, so it takes no --config.* overrides and no --workdir. Run findings '
      'one by one to override them, or set JAX_FINDINGS_RUNS to move every work dir.'
    )
  if experiments.is_job(experiment):
    experiments.job_names(experiment)  # an unknown name is an error before anything runs
  if experiments.is_job(experiment) or not (experiment or config_arg):
    if overrides:
      raise UserError(
        f"{overrides[0]} overrides a finding's config, but no finding was named. "
        'Add --experiment=NAME or --config=path/to/finding.py before it.'
      )
    return Prepared(rest, command, None, None, None)
  if experiment:
    finding = experiments.get(experiment)
    path, variant = experiments.path(experiment), None
  else:
    path, _, variant = config_arg.partition(':')
    variant = variant or None
    finding = finding_lib.load_file(path)
  if quick:
    if variant not in (None, 'quick'):
      raise UserError(
        f'--quick asks for the variant `quick`, but --config names `{variant}`; drop one of them.'
      )
    variant = 'quick'
  default = finding.config(variant)
  for arg in overrides:
    check_key(default, _OVERRIDE.match(arg).group(2), arg)
  _check_sweep_values(rest, default)
  spec = path + (f':{variant}' if variant else '')
  return Prepared([argv[0], f'--config={spec}'] + rest[1:], command, finding, variant, default)


def _check_sweep_values(argv, default) -> None:
  """A sweep axis given one value (`--config.sweep.model.dropout_rate=0.5`): config_flags would
  read it as a sweep of that one value, hiding the likelier mistake of a missing tuple."""
  for i, arg in enumerate(argv):
    m = _OVERRIDE.match(arg)
    if not m or not m.group(2).startswith('sweep.') or m.group(1):
      continue
    text = m.group(3)[1:] if m.group(3) else (argv[i + 1] if i + 1 < len(argv) else '')
    if text and not text.strip().startswith(('(', '[')):
      key = m.group(2)
      axis = _default_of(default, key)
      nested = isinstance(axis, tuple) and axis and isinstance(axis[0], tuple)
      value = f'(({text},),)' if nested else f'({text},)'
      what = 'a tuple of tuples (one tuple a point)' if nested else 'a tuple of values'
      raise UserError(
        f'--config.{key} is a sweep axis: it takes {what}, got the single value {text!r}. '
        f'Write it as such and quote it for the shell: --config.{key}="{value}".'
      )


def check_key(config, key: str, arg: str) -> None:
  """UserError unless `key` names a value of `config` (not a section, not a missing key)."""
  node = config
  for part in key.split('.'):
    if not hasattr(node, 'items') or part not in node:
      known = sorted(sweep.flatten(config))
      close = difflib.get_close_matches(key, known, n=3)
      hint = f' Did you mean {" or ".join("--config." + c for c in close)}?' if close else ''
      raise UserError(
        f'Unknown config key --config.{key} (in {arg!r}).{hint} The keys this '
        'finding takes are shown by --show_config.'
      )
    node = node[part]
  if hasattr(node, 'items'):
    first = next(iter(node), 'KEY')
    raise UserError(
      f'--config.{key} is a section, not a value; set one of its keys, e.g. '
      f'--config.{key}.{first}=...'
    )


def _describe(value) -> str:
  return {
    bool: 'a boolean (true/false)',
    int: 'an integer',
    float: 'a number',
    str: 'a string',
    tuple: 'a tuple',
  }.get(type(value), f'a {type(value).__name__}')


def _default_of(config, key):
  node = config
  for part in key.split('.'):
    node = node[part]
  return node


def explain(error: Exception, default) -> UserError:
  """A config_flags / absl parse error as a one-paragraph UserError naming the fix."""
  text = str(error)
  m = re.search(r'flag --config\.([\w.]+)=(.*?): ', text, re.S)
  if m and default is not None:
    key, given = m.group(1), m.group(2)
    want = _default_of(default, key)
    example = f'"{tuple(want)!r}"' if isinstance(want, tuple) else repr(want)
    return UserError(
      f'--config.{key} expects {_describe(want)} (its default is {want!r}); got '
      f'{given!r}. Pass e.g. --config.{key}={example}.'
    )
  if 'Missing value for flag --config.' in text:
    flag = text.rsplit(' ', 1)[-1]
    return UserError(
      f'The override {flag} has no value. Write it as {flag}=VALUE, e.g. --config.train.epochs=2.'
    )
  if 'is not supported for overriding' in text:
    return UserError(
      f'{text.split(". ")[0]}: a key whose default is None cannot be set from '
      "the command line; give it a typed default in the finding's get_config."
    )
  first = text.strip().splitlines()[0] if text.strip() else type(error).__name__
  return UserError(f'{first}. See --helpfull for the flags, --show_config for the config keys.')


def check_overrides(config, default, overrides: dict) -> None:
  """Types each overridden tuple's items like the default's (ints widen to floats); UserError."""
  for key, value in overrides.items():
    want = _default_of(default, key)
    if not isinstance(want, tuple) or not want:
      continue
    value = value if isinstance(value, tuple) else (value,)
    sample, items = want[0], []
    for item in value:
      if isinstance(sample, float) and isinstance(item, int) and not isinstance(item, bool):
        item = float(item)
      if type(item) is not type(sample):
        kind = {
          bool: 'booleans',
          int: 'integers',
          float: 'numbers',
          str: 'strings',
          tuple: 'tuples',
        }.get(type(sample), type(sample).__name__)
        raise UserError(
          f'--config.{key} is a tuple of {kind} (default {want!r}); could not read '
          f'{item!r} as one. Write it as a tuple and quote it for the shell: '
          f'--config.{key}="{want!r}".'
        )
      items.append(item)
    *parents, leaf = key.split('.')
    node = config
    for p in parents:
      node = node[p]
    with node.unlocked() if hasattr(node, 'unlocked') else _null():
      node[leaf] = tuple(items)


class _null:
  def __enter__(self):
    return self

  def __exit__(self, *exc):
    return False
