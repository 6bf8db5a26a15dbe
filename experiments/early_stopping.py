"""Early stopping: at which epoch each generalization-loss threshold stops, and what it costs.

Seed: the exam's problem 4 (`003 P4b`) on Prechelt's early stopping ("Early stopping - but
when?", 1998): "Stop as soon as the generalization loss (GL) exceeds a certain threshold"; from
its validation-error plot (Figure 5, not in the document's text) the student is to name (a) the
stop epoch for a 28% threshold, (b) for 150%, (c) the epoch at which overfitting is correctly
detected and (d) the epoch of the smallest generalization error, each as one of the epochs A-F
marked on the plot. The document gives no answer. This finding answers the question on a
network that overfits: per threshold, the measured stop epoch (mean ± std and min-max over
seeds); a threshold that GL never exceeded is NOT APPLICABLE, not a pass. It uses Prechelt's
formula GL(t) = 100 * (E_va(t) / E_opt(t) - 1), E_opt(t) the lowest validation error up to epoch
t (the document prints 100 E_va/E_opt - 1, which lacks the parentheses: it would put GL at 99%
at every new minimum; the thresholds 28 and 150 are read as percent on Prechelt's formula).
E_va is the validation cross-entropy (`early_stopping.metric`; Prechelt's E_va is the objective
function on the validation set; 'val_error' uses the classification error instead).

A network that overfits: an MLP 784 -> 512 -> 512 -> 10 (ReLU, Glorot-uniform, about 670k
weights) on 1,000 MNIST training images, no regularization, Adam 1e-3, batch 32, many epochs,
validation error measured on 1,000 held-out images at every epoch end. All seeds train in one
vmapped program to the last epoch; for each GL threshold (and plain patience) the stop epoch is
computed from the recorded curve (engine/early_stopping.py), the same rule the loop applies
online. Stopping restores the weights of the lowest validation error up to the stop; the loop
keeps those weights for `early_stopping.threshold` and evaluates them at the end, and for the
other thresholds the test error at that epoch is read from the per-epoch history.

(c) is read as Prechelt's point: a stop detects overfitting correctly when no later epoch of the
run beats the validation error it restores (the weights it keeps are the run's best); (d) is
reported beside it as the run's lowest-validation epoch (and, in the table, the lowest test
error's).

The project's own addition (rows `own`): stopping costs no test error against training to the
end. What overfits here is the loss, not the error rate: after about 10 epochs the training
loss is ~0, the validation cross-entropy climbs steadily, and the test error stays flat (about
8%). So the check asks whether stopping costs test error, within a margin of 0.5 percentage
points, about one binomial standard error of an 8% error rate on the 2,000 test images (0.006);
it is checked both for the weights the run has when it stops and for the restored
best-validation weights, over the seeds where the rule fired (NOT APPLICABLE where it never did).
"""

import os

import ml_collections
import numpy as np

from engine import base_config, report
from engine import early_stopping as es
from engine import records as rs
from engine import verdict as v

NAME = 'early_stopping'
VARIANTS = ('quick',)


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
  c = base_config.get_config()
  c.dataset.update(dict(validation_size=1000, train_subset=1000, test_subset=2000))
  c.model = ml_collections.ConfigDict(
    dict(
      name='mlp',
      hidden=(512, 512),
      num_classes=10,
      activation='relu',
      kernel_init='glorot_uniform',
      init_scale=1.0,
      batch_norm=False,
      dropout_rate=0.0,
    )
  )
  c.optimizer = ml_collections.ConfigDict(dict(name='adam', learning_rate=1e-3))
  c.train.update(dict(epochs=60, batch_size=32, eval_train_size=1000))
  c.sweep_max_models = 0
  c.early_stopping.update(dict(rule='gl', threshold=28.0))
  c.verdict = ml_collections.ConfigDict(
    dict(
      min_seeds=3,
      thresholds=(5.0, 28.0, 150.0),
      asked=dict(a=28.0, b=150.0),  # the document's questions (a) and (b): their thresholds
      checked=(28.0, 150.0),  # the own check (no worse than the end) at these thresholds
      patience=(10,),
      margin=0.005,
    )
  )
  if variant == 'quick':
    c.dataset.update(dict(validation_size=300, train_subset=300, test_subset=500))
    c.model.hidden = (256,)
    c.train.update(dict(epochs=15, eval_train_size=300, eval_batch_size=500))
    c.seeds = 1
  return c


def _rules(cfg, metric):
  """(label, rule, threshold, patience) of every stopping rule the report measures."""
  rules = [(f'GL > {t:g}%', 'gl', t, 0) for t in cfg.thresholds]
  return rules + [(f'patience {p}', 'patience', 0.0, p) for p in cfg.patience]


def per_rule(results):
  """Per rule: per-seed stop, restored (best up to stop) epochs and test errors at each."""
  cfg = ml_collections.ConfigDict(results['config']['verdict'])
  metric = results['config']['early_stopping']['metric']
  records = [r for r in results['records'] if not r['diverged']]
  hist = {
    k: np.array([r['history'][k] for r in records], np.float64).T
    for k in ('val_loss', 'val_accuracy', 'test_accuracy')
  }
  errors = es.validation_errors(hist, metric)
  test_err = 1.0 - hist['test_accuracy']
  epochs = len(errors)
  cols = np.arange(errors.shape[1])
  out = {
    'epochs': epochs,
    'metric': metric,
    'seeds': [r['seed'] for r in records],
    'errors': errors,
    'lowest_val_epoch': np.nanargmin(errors, axis=0) + 1,
    'lowest_test_epoch': np.nanargmin(test_err, axis=0) + 1,
    'last_test_error': test_err[-1],
    'rules': {},
    'kept': None,
  }
  kept = [r.get('early_stopping') for r in records]
  if kept and all(k and k.get('best') for k in kept):
    k0 = kept[0]
    label = f'GL > {k0["threshold"]:g}%' if k0['rule'] == 'gl' else f'patience {k0["patience"]}'
    out['kept'] = {
      'rule': label,
      'stop': np.array([k['stop_epoch'] or 0 for k in kept]),
      'best': np.array([k['best_epoch'] for k in kept]),
      'test_error': 1.0 - np.array([k['best']['test_accuracy'] for k in kept]),
    }
  for label, rule, threshold, patience in _rules(cfg, metric):
    stops = es.stop_epochs(errors, rule=rule, threshold=threshold, patience=patience)
    best = es.best_epochs(errors, stops)
    ran = np.where(stops > 0, stops, epochs)
    out['rules'][label] = {
      'rule': rule,
      'threshold': threshold,
      'stop_epoch': stops,
      'restored_epoch': best,
      'test_error_at_stop': test_err[ran - 1, cols],
      'test_error_restored': test_err[best - 1, cols],
    }
  return out


def _fmt_epochs(epochs, stops=None):
  return ', '.join(
    'never' if stops is not None and s == 0 else str(int(e))
    for e, s in zip(epochs, stops if stops is not None else epochs)
  )


NO_ANSWER = 'no answer (asks for one of the epochs A-F marked on its Figure 5, not in the text)'


def _epochs(x) -> str:
  s = rs.stats(x)
  return f'epoch {s.mean:.1f} ± {s.std:.1f} (min-max {s.min:.0f}-{s.max:.0f})'


def _max_gl(a):
  """Per seed, the largest GL the run reached."""
  return np.nanmax(es.generalization_loss(a['errors']), axis=0)


def threshold_rows(a, cfg) -> list:
  """The document's (a) and (b): per threshold, the stop epoch over the seeds."""
  rows = []
  for part, t in sorted(cfg.asked.items()):
    claim = f'GL > {t:g}% stops training: at which epoch'
    threshold = f'GL exceeds {t:g}% before epoch {a["epochs"]} ends, in every seed'
    r = a['rules'].get(f'GL > {t:g}%')
    if r is None:
      rows.append(
        v.test(
          f'003 P4b({part})',
          claim,
          document=NO_ANSWER,
          measured=f'n/a (GL {t:g} is not in verdict.thresholds)',
          threshold=threshold,
          passed=None,
        )
      )
      continue
    stops = r['stop_epoch']
    fired = stops > 0
    if not fired.any():
      gl = _max_gl(a)
      rows.append(
        v.not_applicable(
          f'003 P4b({part})',
          claim,
          document=NO_ANSWER,
          why=f'never fired: GL stayed <= {t:g}% for {a["epochs"]} epochs in all {len(stops)} '
          f'seed(s) (largest GL {rs.stats(gl).format(1)}%)',
        )
      )
      continue
    rows.append(
      v.test(
        f'003 P4b({part})',
        claim,
        document=NO_ANSWER,
        measured=f'{_epochs(stops[fired])} over the {int(fired.sum())}/{len(stops)} seeds where '
        f'it fired (per seed: {_fmt_epochs(stops, stops)}); restores '
        f'{_epochs(r["restored_epoch"][fired])}',
        threshold=threshold,
        passed=bool(fired.all()),
        value=float(stops[fired].mean()),
      )
    )
  return rows


def detection_row(a, cfg) -> v.Claim:
  """The document's (c), with (d) beside it: does a stop keep the run's best weights?"""
  claim = (
    "overfitting is correctly detected: the weights a stop restores are the run's lowest "
    'validation error (no later epoch beats them)'
  )
  lowest = a['lowest_val_epoch']
  parts, correct = [], []
  for t in sorted(cfg.asked.values()):
    r = a['rules'].get(f'GL > {t:g}%')
    if r is None:
      continue
    fired = r['stop_epoch'] > 0
    ok = r['restored_epoch'][fired] == lowest[fired]
    correct += list(ok)
    if fired.any():
      parts.append(f'GL > {t:g}%: {int(ok.sum())}/{int(fired.sum())} seeds where it fired')
    else:
      parts.append(f'GL > {t:g}%: never fired')
  if not correct:
    return v.not_applicable(
      '003 P4b(c)', claim, document=NO_ANSWER, why='no asked threshold fired', primary=False
    )
  return v.test(
    '003 P4b(c)',
    claim,
    document=NO_ANSWER,
    measured='; '.join(parts) + f'. (d) the lowest validation error: {_epochs(lowest)}',
    threshold="in every seed where an asked threshold fired, its restored epoch is the run's "
    'lowest-validation epoch',
    passed=bool(all(correct)),
    primary=False,
  )


def own_rows(a, cfg) -> list:
  """The project's own check: stopping costs no test error against training to the end."""
  last = a['last_test_error']
  rows = []
  for t in cfg.checked:
    r = a['rules'].get(f'GL > {t:g}%')
    for weights, key in (
      ('the weights at the stop', 'test_error_at_stop'),
      ('the best-validation weights restored', 'test_error_restored'),
    ):
      claim = f'stopping at GL > {t:g}% ({weights}) is no worse on test than training to the end'
      if r is None or not len(last):
        rows.append(
          v.Check(
            claim=claim,
            threshold='-',
            passed=None,
            measured=f'n/a (GL {t:g} is not in verdict.thresholds)',
          )
        )
        continue
      fired = r['stop_epoch'] > 0
      if not fired.any():
        rows.append(
          v.not_applicable(
            v.OWN,
            claim,
            document='-',
            why=f'GL > {t:g}% never fired in {a["epochs"]} epochs ({len(fired)} seed(s)): there '
            'was no stop to compare',
          )
        )
        continue
      diff = (r[key] - last)[fired]
      rows.append(
        v.Check(
          claim=claim,
          threshold=f'mean over the seeds where it fired of (test error - test error at epoch '
          f'{a["epochs"]}) <= {cfg.margin:g}',
          measured=f'{diff.mean():+.4f} (per seed {", ".join(f"{d:+.4f}" for d in diff)}); '
          f'fired in {int(fired.sum())}/{len(fired)} seeds',
          passed=bool(diff.mean() <= cfg.margin),
          value=float(diff.mean()),
        )
      )
  return rows


def verdict(results) -> v.Verdict:
  cfg = ml_collections.ConfigDict(results['config']['verdict'])
  a = per_rule(results)
  last = a['last_test_error']
  claims = threshold_rows(a, cfg) + [detection_row(a, cfg)] + own_rows(a, cfg)

  def err(x, ref=None):
    return (
      '-' if x is None else (rs.stats(x).format(4) if ref is None else f'{(x - ref).mean():+.4f}')
    )

  def row(rule, stop='-', restored='-', at_stop=None, at_restored=None):
    return {
      'rule': rule,
      'stop epoch (per seed)': stop,
      'restored epoch': restored,
      'test err at stop': err(at_stop),
      'stop - end': err(at_stop, last),
      'test err restored': err(at_restored),
      'restored - end': err(at_restored, last),
    }

  table = [row('train to the end', str(a['epochs']), at_stop=last)]
  for label, r in a['rules'].items():
    table.append(
      row(
        label,
        _fmt_epochs(r['stop_epoch'], r['stop_epoch']),
        _fmt_epochs(r['restored_epoch']),
        r['test_error_at_stop'],
        r['test_error_restored'],
      )
    )
  kept = a['kept']
  if kept is not None:
    table.append(
      row(
        f'{kept["rule"]}: weights kept by the loop',
        _fmt_epochs(kept['stop'], kept['stop']),
        _fmt_epochs(kept['best']),
        at_restored=kept['test_error'],
      )
    )
  table.append(
    row('lowest validation error (hindsight)', restored=_fmt_epochs(a['lowest_val_epoch']))
  )
  table.append(row('lowest test error (hindsight)', restored=_fmt_epochs(a['lowest_test_epoch'])))
  return v.of_run(
    results,
    claims,
    table,
    min_seeds=cfg.min_seeds,
    diverged=sum(r['diverged'] for r in results['records']),
  )


def plot(results, workdir) -> list[str]:
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

  a = per_rule(results)
  records = [r for r in results['records'] if not r['diverged']]
  metric = a['metric']
  n = len(records)
  fig, axes = plt.subplots(
    2, n, figsize=(4.6 * n, 6.4), squeeze=False, sharex=True, constrained_layout=True
  )
  x = np.arange(1, a['epochs'] + 1)
  markers = ['v', 's', 'D', 'P', 'X', '*']
  for j, r in enumerate(records):
    h = {
      k: np.array(r['history'][k], np.float64)
      for k in ('val_loss', 'val_accuracy', 'test_accuracy', 'train_loss')
    }
    errors = es.validation_errors(h, metric)
    top, bottom = axes[0, j], axes[1, j]
    top.plot(x, errors, color='C0', label=f'validation ({metric})')
    if metric == 'val_loss':
      top.plot(x, h['train_loss'], color='C7', lw=0.8, label='train loss')
    bottom.plot(x, 1.0 - h['test_accuracy'], color='C3', label='test error')
    bottom.plot(x, 1.0 - h['val_accuracy'], color='C0', lw=0.8, alpha=0.6, label='validation error')
    for k, (label, rule) in enumerate(a['rules'].items()):
      stop = rule['stop_epoch'][j]
      color = f'C{k + 1 if k + 1 < 3 else k + 2}'
      if stop:
        for ax in (top, bottom):
          ax.axvline(stop, color=color, ls='--', lw=0.9)
        top.plot(
          [stop],
          [errors[stop - 1]],
          markers[k % len(markers)],
          color=color,
          label=f'stop: {label} (epoch {stop})',
        )
      else:
        top.plot([], [], markers[k % len(markers)], color=color, label=f'{label}: never')
    lo = a['lowest_val_epoch'][j]
    top.plot(
      [lo],
      [errors[lo - 1]],
      'o',
      mfc='none',
      color='k',
      ms=9,
      label=f'lowest validation (epoch {lo})',
    )
    bottom.plot([lo], [1.0 - h['test_accuracy'][lo - 1]], 'o', mfc='none', color='k', ms=9)
    top.set(title=f'seed {r["seed"]}', ylabel=metric)
    bottom.set(xlabel='epoch', ylabel='error rate')
    for ax in (top, bottom):
      ax.grid(alpha=0.3)
      ax.legend(fontsize=6)
  fig.suptitle(
    f'MLP on a small {results["dataset"]["name"]} subset: validation curve and the epochs where '
    'GL / patience would stop (dashed)',
    fontsize=9,
  )
  return [report.save_figure(fig, os.path.join(workdir, 'validation_curve_stops.png'))]
