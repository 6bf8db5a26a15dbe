"""What a finding is: the contract between a finding's file and the engine.

A finding is one Python file. It must define

    get_config(variant=None) -> ml_collections.ConfigDict
        The config; `variant` is the `:arg` of `--config=FILE:arg` (e.g. 'quick'), None without one.
    verdict(results) -> engine.verdict.Verdict
        Checks the finding against what was measured.

and may define

    VARIANTS = ('quick',)           the `:arg` values get_config accepts (default: none)
    NAME = 'my_finding'             default: the file's name
    plot(results, workdir) -> list of PNG paths written
    probe(model, state, images, labels) -> {name: scalar}    measured at each epoch end (jitted)
    analyze(results, workdir) -> dict       after training, before the verdict: results['analysis']
    measure(config, workdir) -> dict        computes instead of training (no training loop runs)
    validate(config) -> None                raises engine.errors.UserError for a bad config

The module docstring's first line is the finding's one-line summary (`--list`), the rest opens
its report. `load` checks all of this when the file is loaded, so a misspelt hook (`analyse`)
or a hook with the wrong parameters is an error naming the fix, not a hook silently skipped.
"""

import dataclasses
import importlib
import importlib.util
import inspect
import os
import sys
import types
from collections.abc import Callable
from typing import Any

import ml_collections

from engine.errors import UserError

REQUIRED = {'get_config': (), 'verdict': ('results',)}
HOOKS = {
  'plot': ('results', 'workdir'),
  'probe': ('model', 'state', 'images', 'labels'),
  'analyze': ('results', 'workdir'),
  'measure': ('config', 'workdir'),
  'validate': ('config',),
}


@dataclasses.dataclass(frozen=True)
class Finding:
  """A loaded finding: its name, its functions and the optional hooks (None where absent)."""

  name: str
  path: str
  doc: str
  variants: tuple
  get_config: Callable[..., ml_collections.ConfigDict]
  verdict: Callable[[dict], Any]
  plot: Callable[[dict, str], list] | None = None
  probe: Callable[..., dict] | None = None
  analyze: Callable[[dict, str], dict] | None = None
  measure: Callable[[ml_collections.ConfigDict, str], dict] | None = None
  validate: Callable[[ml_collections.ConfigDict], None] | None = None

  @property
  def summary(self) -> str:
    return (self.doc.strip().splitlines() or [''])[0]

  @property
  def trains(self) -> bool:
    return self.measure is None

  def config(self, variant: str | None = None) -> ml_collections.ConfigDict:
    """`get_config(variant)`, checked against VARIANTS; UserError for a variant not offered."""
    if variant is not None and variant not in self.variants:
      offered = ', '.join(f'`:{v}`' for v in self.variants) or 'none'
      raise UserError(
        f'The finding {self.name} ({self.path}) has no variant {variant!r}; the '
        f'variants it offers are: {offered}. Drop the `:{variant}` (or --quick), '
        'or add it to VARIANTS and handle it in get_config.'
      )
    try:
      config = self.get_config(variant) if variant is not None else self.get_config()
    except UserError:
      raise
    except Exception as e:  # pylint: disable=broad-except
      raise UserError(
        f'get_config({variant!r}) of {self.path} raised {type(e).__name__}: {e}. '
        'Fix the finding file; run it with --show_config to check the result.'
      ) from None
    if not isinstance(config, ml_collections.ConfigDict):
      raise UserError(
        f'get_config of {self.path} returned {type(config).__name__}, not an '
        'ml_collections.ConfigDict. Return the config (e.g. '
        '`c = base_config.get_config(); ...; return c`).'
      )
    return config


def _one_edit_apart(a: str, b: str) -> bool:
  """True when `a` becomes `b` by one insertion, deletion, substitution or swap of neighbours."""
  if a == b or abs(len(a) - len(b)) > 1:
    return False
  if len(a) == len(b):
    diff = [i for i in range(len(a)) if a[i] != b[i]]
    return len(diff) == 1 or (
      len(diff) == 2
      and diff[1] == diff[0] + 1
      and a[diff[0]] == b[diff[1]]
      and a[diff[1]] == b[diff[0]]
    )
  short, long_ = sorted((a, b), key=len)
  return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def _check_signature(path, name, fn, params) -> None:
  """UserError unless `fn` is a function that takes `params` positionally."""
  if not callable(fn):
    raise UserError(
      f'{path}: `{name}` must be a function taking ({", ".join(params)}); it is a '
      f'{type(fn).__name__}.'
    )
  sig = inspect.signature(fn)
  try:
    sig.bind(*params)
  except TypeError:
    raise UserError(
      f'{path}: `{name}{sig}` does not take the arguments the engine passes: '
      f'{name}({", ".join(params)}). Change its parameters to exactly those.'
    ) from None


def from_module(module: types.ModuleType, path: str | None = None) -> Finding:
  """Checks `module` against the contract and returns its Finding; UserError naming the fix."""
  path = path or getattr(module, '__file__', module.__name__)
  missing = [n for n in REQUIRED if not hasattr(module, n)]
  if missing:
    raise UserError(
      f'{path} is not a finding: it defines no {" and no ".join(f"`{m}`" for m in missing)}. '
      'A finding file defines get_config(variant=None) returning an ml_collections.ConfigDict '
      'and verdict(results) returning an engine.verdict.Verdict (template: '
      'examples/my_finding.py; guide: README, "Write your own finding").'
    )
  names = set(REQUIRED) | set(HOOKS)
  for attr, obj in vars(module).items():
    if attr in names or attr.startswith('_') or not inspect.isfunction(obj):
      continue
    if getattr(obj, '__module__', None) != module.__name__:
      continue
    close = [n for n in sorted(names) if _one_edit_apart(attr, n)]
    if close:
      raise UserError(
        f'{path} defines `{attr}`, one letter away from the hook `{close[0]}`, '
        f'so the engine would never call it. Rename it to `{close[0]}` if it is '
        'that hook, or give it a name of its own (or a leading underscore).'
      )
  variants = tuple(getattr(module, 'VARIANTS', ()))
  _check_signature(path, 'get_config', module.get_config, ())
  if variants:
    try:
      inspect.signature(module.get_config).bind(variants[0])
    except TypeError:
      raise UserError(
        f'{path} declares VARIANTS {variants}, but its get_config takes no '
        'variant; define it as get_config(variant=None).'
      ) from None
  _check_signature(path, 'verdict', module.verdict, REQUIRED['verdict'])
  hooks = {}
  for name, params in HOOKS.items():
    fn = getattr(module, name, None)
    if fn is not None:
      _check_signature(path, name, fn, params)
      hooks[name] = fn
  default_name = os.path.splitext(os.path.basename(str(path)))[0]
  return Finding(
    name=getattr(module, 'NAME', default_name),
    path=str(path),
    doc=module.__doc__ or '',
    variants=variants,
    get_config=module.get_config,
    verdict=module.verdict,
    **hooks,
  )


def load_file(path: str) -> Finding:
  """Imports a finding from a file anywhere (`--config=PATH`); UserError for every bad file."""
  if not os.path.exists(path):
    raise UserError(
      f'--config={path}: no such file (looked from {os.getcwd()}). Pass the path '
      'of a finding file (e.g. --config=examples/my_finding.py), or '
      '--experiment=NAME for a built-in one (--list names them).'
    )
  if os.path.isdir(path) or not path.endswith('.py'):
    raise UserError(
      f'--config={path} is not a Python file: a finding is a .py file that '
      'defines get_config and verdict (template: examples/my_finding.py).'
    )
  folder = os.path.dirname(os.path.abspath(path))
  if folder not in sys.path:  # as `python PATH` would: the file may import helpers beside it
    sys.path.insert(0, folder)
  name = 'jax_findings_user.' + os.path.splitext(os.path.basename(path))[0]
  spec = importlib.util.spec_from_file_location(name, path)
  module = importlib.util.module_from_spec(spec)
  sys.modules[name] = module  # dataclasses and pickling look modules up by name
  try:
    spec.loader.exec_module(module)
  except SyntaxError as e:
    sys.modules.pop(name, None)
    raise UserError(
      f'--config={path} is not valid Python: {e.msg} (line {e.lineno}). Fix the file and run again.'
    ) from None
  except Exception as e:  # pylint: disable=broad-except
    sys.modules.pop(name, None)
    raise UserError(
      f'Importing --config={path} raised {type(e).__name__}: {e}. Fix the file '
      '(run `python PATH` to see the traceback) and run again.'
    ) from None
  return from_module(module, path)


def load_builtin(name: str) -> Finding:
  """A finding of this package's experiments/ folder, by name."""
  return from_module(importlib.import_module(f'experiments.{name}'))


def builtin_path(name: str) -> str:
  """The file of a built-in finding, wherever the package is installed."""
  return importlib.util.find_spec(f'experiments.{name}').origin
