"""The built-in findings: one file per finding, each a finding file as engine/finding.py defines.

`python launch.py --experiment=NAME` runs `experiments/NAME.py`; `--config=PATH` runs any other
finding file the same way.
"""

import difflib

from engine import finding
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
  'answer_keys',
  'claims',
  'loocv',
  'bias_variance',
  'transfer',
  'resnet18_cifar',
)


def check_name(name: str) -> None:
  if name not in NAMES:
    close = difflib.get_close_matches(name, NAMES, n=1)
    hint = f' Did you mean `{close[0]}`?' if close else ''
    raise UserError(
      f'Unknown experiment {name!r}.{hint} Known experiments: {", ".join(NAMES)} '
      '(`python launch.py --list` describes each); run a finding file of your own '
      'with --config=PATH.'
    )


def is_job(experiment: str | None) -> bool:
  """Whether --experiment names several findings: `all`, or a comma-separated list."""
  return bool(experiment) and (experiment == 'all' or ',' in experiment)


def job_names(experiment: str) -> tuple[str, ...]:
  """The findings of `--experiment=all` (every one) or `--experiment=a,b` (those, checked)."""
  if experiment == 'all':
    return NAMES
  names = tuple(dict.fromkeys(n.strip() for n in experiment.split(',') if n.strip()))
  for name in names:
    check_name(name)
  return names


def get(name: str) -> finding.Finding:
  """The built-in finding `name`, checked against the contract."""
  check_name(name)
  return finding.load_builtin(name)


def path(name: str) -> str:
  """The file of the built-in finding `name` (what --experiment=NAME passes as --config)."""
  check_name(name)
  return finding.builtin_path(name)
