"""A finding's verdict as data: checks with claim, threshold and measured value, and the outcome.

Outcome rule, the same for every finding: INCONCLUSIVE when the run cannot support a verdict
(fewer seeds than the finding needs, a stand-in dataset, a diverged point, a check that could not
be computed); otherwise REPRODUCED when every check passes and NOT REPRODUCED when any fails.
"""

import dataclasses

import scipy.stats

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = 'REPRODUCED', 'NOT REPRODUCED', 'INCONCLUSIVE'


@dataclasses.dataclass
class Check:
  claim: str
  threshold: str
  measured: str
  passed: bool | None  # None: could not be computed
  value: float | None = None


@dataclasses.dataclass
class Verdict:
  outcome: str
  checks: list
  table: list  # rows of {column: value} for the report
  reasons: list  # why the outcome is INCONCLUSIVE, if it is

  def to_json(self):
    return dataclasses.asdict(self)


def decide(checks, *, seeds: int, min_seeds: int, standin: bool, diverged: int) -> tuple[str, list]:
  reasons = []
  if seeds < min_seeds:
    reasons.append(f'{seeds} seed(s) measured; the finding needs at least {min_seeds}.')
  if standin:
    reasons.append('trained on the embedded stand-in dataset, not the real one.')
  if diverged:
    reasons.append(f'{diverged} model(s) diverged (loss became NaN).')
  if any(c.passed is None for c in checks):
    reasons.append('a check could not be computed.')
  if reasons:
    return INCONCLUSIVE, reasons
  return (REPRODUCED if all(c.passed for c in checks) else NOT_REPRODUCED), []


def of_run(results, checks, table, *, min_seeds: int, diverged: int) -> Verdict:
  """The Verdict of a run from its checks: `decide` with the run's seeds and data source."""
  outcome, reasons = decide(
    checks,
    seeds=results['seeds'],
    min_seeds=min_seeds,
    standin=results['dataset']['standin'],
    diverged=diverged,
  )
  return Verdict(outcome, checks, table, reasons)


def spearman(x, y) -> float:
  return float(scipy.stats.spearmanr(x, y).statistic)
