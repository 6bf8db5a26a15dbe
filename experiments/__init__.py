"""The registry of findings: one module per finding, each with get_config(), verdict() and plot()."""
import difflib
import importlib

from engine.errors import UserError

NAMES = (
    'dropout_sweep',
    'architectures',
    'lenet_mnist',
    'lr_decay',
    'early_stopping',
    'depth_vs_width',
    'batchnorm',
    'weight_init',
    'data_order',
    'xor',
)


def get(name: str):
  if name not in NAMES:
    close = difflib.get_close_matches(name, NAMES, n=1)
    hint = f' Did you mean `{close[0]}`?' if close else ''
    raise UserError(f'Unknown experiment {name!r}.{hint} Known experiments: {", ".join(NAMES)} '
                    '(`python launch.py --list` describes each).')
  return importlib.import_module(f'experiments.{name}')


def summary(name: str) -> str:
  """The first line of the experiment's docstring."""
  return (get(name).__doc__ or '').strip().splitlines()[0]
