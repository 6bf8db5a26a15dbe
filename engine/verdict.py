"""A finding's verdict as data: one row per claim it tests, and the outcome derived from the rows.

A row (`Claim`) says which document and question the claim comes from (`002 2F`, `001 T/F 3`;
the project's own checks have id `own`), the claim in a few words, what the document says, what
was measured, the declared test, the correct value where the document's own answer is wrong,
and the result:

    HOLDS           the measurement passes the declared test
    DOES NOT HOLD   it fails it
    DOCUMENT WRONG  the document's own answer (a number, a matching) disagrees with what was
                    measured or computed; `correct` gives the right one
    INCONCLUSIVE    the run cannot settle it (too few seeds, stand-in data, a diverged model,
                    a value that could not be computed)
    NOT APPLICABLE  the condition the claim is about never arose (a rule that never fired)

Outcome rule, the same for every finding: INCONCLUSIVE when the run cannot support a verdict or
a primary row is INCONCLUSIVE; otherwise REPRODUCED when every applicable primary row HOLDS and
NOT REPRODUCED when any fails. Primary rows are the finding's headline claims; the others (a
document's side remark, a wrong number it quotes) are reported beside them.
"""

import dataclasses

REPRODUCED, NOT_REPRODUCED = 'REPRODUCED', 'NOT REPRODUCED'
HOLDS, DOES_NOT_HOLD, DOCUMENT_WRONG = 'HOLDS', 'DOES NOT HOLD', 'DOCUMENT WRONG'
INCONCLUSIVE, NOT_APPLICABLE = 'INCONCLUSIVE', 'NOT APPLICABLE'
RESULTS = (HOLDS, DOES_NOT_HOLD, DOCUMENT_WRONG, INCONCLUSIVE, NOT_APPLICABLE)
OWN = 'own'  # the id of a check that is the project's own addition, not a document's claim


@dataclasses.dataclass
class Claim:
  id: str  # document prefix and question, e.g. '002 3G'; OWN for the project's own checks
  claim: str  # the claim in a few words
  document: str  # what the document says: its number or answer, verbatim where short
  measured: str  # mean ± std and spread over seeds, or the exact value
  threshold: str  # the test declared in the config before the run
  result: str  # one of RESULTS
  correct: str = ''  # the correct value, where the document's own answer is wrong
  value: float | None = None  # the number the test reads, for tests and plots
  primary: bool = True  # the finding's overall verdict rests on it
  from_training: bool = True  # needs a run that trained enough seeds on the real data
  indicated: str = ''  # what this run showed, where too few seeds etc. made it INCONCLUSIVE

  def __post_init__(self):
    if self.result not in RESULTS:
      raise ValueError(f'result {self.result!r} is not one of {RESULTS}')

  @property
  def passed(self) -> bool | None:
    """True for HOLDS, False for DOES NOT HOLD / DOCUMENT WRONG (also where the run could only
    indicate it), None otherwise."""
    return {HOLDS: True, DOES_NOT_HOLD: False, DOCUMENT_WRONG: False}.get(
      self.indicated or self.result
    )

  @property
  def shown(self) -> str:
    """The result as the report shows it: 'INCONCLUSIVE (this run: HOLDS)' where downgraded."""
    return f'{self.result} (this run: {self.indicated})' if self.indicated else self.result


def test(
  id,
  claim,
  *,
  document,
  measured,
  threshold,
  passed,
  value=None,
  primary=True,
  from_training=True,
  wrong_if_fails=False,
  correct='',
) -> Claim:
  """A row from a declared test: HOLDS if `passed`, else DOES NOT HOLD (or DOCUMENT WRONG when
  the document's own answer is what failed); INCONCLUSIVE if `passed` is None."""
  if passed is None:
    result = INCONCLUSIVE
  elif passed:
    result = HOLDS
  else:
    result = DOCUMENT_WRONG if wrong_if_fails else DOES_NOT_HOLD
  return Claim(
    id=id,
    claim=claim,
    document=document,
    measured=measured,
    threshold=threshold,
    result=result,
    correct=correct if result == DOCUMENT_WRONG else '',
    value=None if value is None else float(value),
    primary=primary,
    from_training=from_training,
  )


def number(
  id,
  claim,
  *,
  document: float,
  computed: float,
  tolerance: float,
  fmt='{:g}',
  primary=False,
  from_training=False,
  measured=None,
) -> Claim:
  """A row comparing a number the document gives with the one computed or measured here:
  HOLDS within `tolerance`, else DOCUMENT WRONG with the computed value as the correct one."""
  agrees = abs(float(document) - float(computed)) <= tolerance
  return test(
    id,
    claim,
    document=fmt.format(document),
    measured=measured or fmt.format(computed),
    threshold=f'abs(document - computed) <= {tolerance:g}',
    passed=agrees,
    value=computed,
    primary=primary,
    from_training=from_training,
    wrong_if_fails=True,
    correct=fmt.format(computed),
  )


def not_applicable(id, claim, *, document, why, primary=True) -> Claim:
  """A row whose condition never arose: neither a pass nor a failure."""
  return Claim(
    id=id,
    claim=claim,
    document=document,
    measured=why,
    threshold='-',
    result=NOT_APPLICABLE,
    primary=primary,
  )


def Check(claim, threshold, measured, passed, value=None, primary=True) -> Claim:
  """A check that is the project's own addition (id `own`), not a claim of a document."""
  return test(
    OWN,
    claim,
    document='-',
    measured=measured,
    threshold=threshold,
    passed=passed,
    value=value,
    primary=primary,
  )


@dataclasses.dataclass
class Verdict:
  outcome: str
  claims: list  # of Claim
  table: list  # rows of {column: value} for the report
  reasons: list  # why the outcome is INCONCLUSIVE, if it is

  def to_json(self):
    return dataclasses.asdict(self)

  def tally(self) -> str:
    """'3 HOLDS, 1 DOCUMENT WRONG': how the rows came out."""
    counts = {r: sum(c.result == r for c in self.claims) for r in RESULTS}
    return ', '.join(f'{n} {r}' for r, n in counts.items() if n)


CHANCE_MARGIN = 0.05  # within 5 points of 1/classes: the model learned nothing (MNIST: 0.15)


def run_reasons(
  *,
  seeds: int,
  min_seeds: int,
  standin: bool,
  diverged: int,
  records=(),
  num_classes: int | None = None,
  control=(),
) -> list:
  """Why a run cannot support a verdict on what it trained: one sentence per reason.

  From `records` (engine/loop.py's) also: models whose loss exploded without becoming NaN, and
  a run in which no model trained (every one, or one of the `control` records, the point that
  must learn for the finding to mean anything, ends at chance accuracy, 1 / `num_classes`, with
  a loss no lower than its initial one).
  """
  reasons = []
  if seeds < min_seeds:
    reasons.append(f'{seeds} seed(s) measured; the finding needs at least {min_seeds}.')
  if standin:
    reasons.append('trained on the embedded stand-in dataset, not the real one.')
  if diverged:
    reasons.append(f'{diverged} model(s) diverged (loss became NaN).')
  exploded = [r for r in records if r.get('exploded') and not r.get('diverged')]
  if exploded:
    reasons.append(
      f'{len(exploded)} model(s) did not train: the loss exploded (above {EXPLODED:g} times '
      'its initial value, e.g. '
      f'{_explosion(exploded[0])}) without becoming NaN; lower the learning rate.'
    )
  if num_classes and records:
    at_chance = [r for r in records if _at_chance(r, num_classes)]
    chance = (
      f'chance accuracy (1/{num_classes} = {1 / num_classes:.3f}, + {CHANCE_MARGIN}), its loss '
      'not below its initial one'
    )
    if len(at_chance) == len(records):
      reasons.append(f'no model trained: every model ended at {chance}.')
    elif [r for r in control if _at_chance(r, num_classes)]:
      reasons.append(f'the control point did not train: it ended at {chance}.')
  return reasons


EXPLODED = 1e6  # a finite loss this many times its initial one (engine/loop.py marks it)


def _explosion(record) -> str:
  losses = [x for x in record['history'].get('train_running_loss', []) if x is not None]
  start = (record.get('initial') or {}).get('train_loss')
  worst = f'{max(losses):.3g}' if losses else '?'
  return f'{worst} from {start:.3g}' if start is not None else worst


def _at_chance(record, num_classes) -> bool:
  """Learned nothing: ends at chance accuracy on the training images, its loss no lower than
  before training (records of engine/loop.py carry it as `initial`; without it, unknown)."""
  final, start = record.get('final') or {}, record.get('initial')
  if not start:
    return False
  acc, loss = final.get('train_accuracy'), final.get('train_loss')
  return (acc is None or acc <= 1 / num_classes + CHANCE_MARGIN) and (
    loss is None or loss >= start['train_loss']
  )


def decide(claims, reasons) -> tuple[str, list]:
  """The outcome from the rows and the run's reasons; rows from training turn INCONCLUSIVE when
  the run cannot support them. Returns (outcome, reasons)."""
  reasons = list(reasons)
  if reasons:
    for c in claims:
      if c.from_training and c.result in (HOLDS, DOES_NOT_HOLD, DOCUMENT_WRONG):
        c.indicated, c.result = c.result, INCONCLUSIVE
  primary = [c for c in claims if c.primary and c.result != NOT_APPLICABLE]
  if any(c.result == INCONCLUSIVE for c in primary) and not reasons:
    reasons.append('a primary claim could not be settled (see its row).')
  if reasons:
    return INCONCLUSIVE, reasons
  if not primary:
    return INCONCLUSIVE, ['no primary claim was applicable.']
  return (REPRODUCED if all(c.result == HOLDS for c in primary) else NOT_REPRODUCED), []


def of_run(results, claims, table, *, min_seeds: int, diverged: int, control=()) -> Verdict:
  """The Verdict of a run from its rows, the run's seeds, its data source and its records
  (a run whose models never trained supports no verdict; `control`: see `run_reasons`)."""
  model = (results.get('config') or {}).get('model') or {}
  reasons = run_reasons(
    seeds=results['seeds'],
    min_seeds=min_seeds,
    standin=results['dataset']['standin'],
    diverged=diverged,
    records=results.get('records') or (),
    num_classes=model.get('num_classes'),
    control=control,
  )
  outcome, reasons = decide(claims, reasons)
  return Verdict(outcome, claims, table, reasons)


def spearman(x, y) -> float:
  import scipy.stats  # at the verdict, not at start-up: 1 s and ~60 MB a run need not carry

  return float(scipy.stats.spearmanr(x, y).statistic)
