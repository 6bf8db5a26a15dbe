"""What a run leaves for a person: report.md, plots and a summary on the terminal."""

import io
import json
import os

import numpy as np

from engine import distributed, files


def markdown_table(rows) -> str:
  """A markdown table; a `|` or a line break inside a cell is escaped so the row stays one row."""
  if not rows:
    return ''
  cols = list(rows[0])
  cell = lambda x: str(x).replace('|', '\\|').replace('\n', ' ')
  lines = ['| ' + ' | '.join(map(cell, cols)) + ' |', '|' + '---|' * len(cols)]
  lines += ['| ' + ' | '.join(cell(r[c]) for c in cols) + ' |' for r in rows]
  return '\n'.join(lines)


def text_table(rows) -> str:
  if not rows:
    return ''
  cols = list(rows[0])
  width = {c: max(len(str(c)), *(len(str(r[c])) for r in rows)) for c in cols}
  fmt = lambda r: '  '.join(str(r[c]).ljust(width[c]) for c in cols)
  return '\n'.join(
    [fmt({c: c for c in cols}), fmt({c: '-' * width[c] for c in cols})] + [fmt(r) for r in rows]
  )


def claims_rows(verdict, *, with_threshold=True):
  """The claims table: one row per claim, as the report and the terminal show it."""
  rows = []
  for c in verdict.claims:
    row = {'id': c.id, 'claim': c.claim, 'document says': c.document or '-', 'measured': c.measured}
    if with_threshold:
      row['test'] = c.threshold
    row.update({'correct value': c.correct or '-', 'result': c.shown})
    rows.append(row)
  return rows


def write(workdir, *, name, doc, verdict, results, plots, command):
  """report.md: the claims table first, then the finding, what was measured, plots, config."""
  ds = results['dataset']
  lines = [f'# {name}: {verdict.outcome}', '']
  if ds['standin']:
    lines += [
      '> **WARNING: the real dataset was not found; this run used the embedded stand-in '
      f'({ds["source"]}). Its numbers are not comparable with the finding.**',
      '',
    ]
  lines += [
    f'## Claims ({verdict.tally()})',
    '',
    markdown_table(claims_rows(verdict)),
    '',
    'Ids cite the source documents (`002 3G`: document 002, question 3G); `own` marks a check '
    "that is this project's addition. The result judges what the document says: for a true/false "
    'question the claim column gives the statement and the document column the answer, so HOLDS '
    "means the document's answer holds. The test of each row was declared in the config before "
    'the run.',
    '',
  ]
  if verdict.reasons:
    lines += ['Why inconclusive:', ''] + [f'- {r}' for r in verdict.reasons] + ['']
  lines += [
    '## The finding',
    '',
    doc.strip(),
    '',
    f'- Data: {ds["describe"]}',
    f'- Seeds: {results["seeds"]}; models trained: {len(results["records"])}; '
    f'training wall time: {results["train_seconds"]:.1f} s',
    f'- Reproduce: `{command}`',
    '',
    '## Measured',
    '',
    markdown_table(verdict.table),
    '',
  ]
  if plots:
    lines += (
      ['## Plots', ''] + [f'![{os.path.basename(p)}]({os.path.basename(p)})' for p in plots] + ['']
    )
  lines += [
    '## Config',
    '',
    '```json',
    json.dumps(results['config'], indent=2, sort_keys=True),
    '```',
    '',
  ]
  files.write_text(os.path.join(workdir, 'report.md'), '\n'.join(lines))


def pyplot():
  """matplotlib.pyplot on the file-only Agg backend, imported at the first plot: a run's
  start-up and its training do not carry matplotlib (0.5 s and ~30 MB)."""
  import matplotlib

  matplotlib.use('Agg')
  import matplotlib.pyplot as plt

  return plt


def save_figure(fig, path):
  plt = pyplot()
  if not distributed.is_writer():
    plt.close(fig)
    return path
  if files.is_remote(path):  # gs://...: drawn in memory, uploaded whole
    out = io.BytesIO()
    fig.savefig(out, format='png', dpi=120, bbox_inches='tight')
    plt.close(fig)
    files.write_bytes(path, out.getvalue())
    return path
  tmp = path + '.tmp.png'
  fig.savefig(tmp, dpi=120, bbox_inches='tight')
  plt.close(fig)
  os.replace(tmp, path)
  return path


def sweep_plot(path, x, series, *, xlabel, ylabel, title, reference=None, right=None):
  """Mean and seed spread of each series against the swept value, with an optional reference.

  `series` maps a name to `{x value: per-seed values}`; `right` (name, series) adds a second panel.
  """
  ncols = 2 if right else 1
  fig, axes = pyplot().subplots(1, ncols, figsize=(6 * ncols, 4.2), squeeze=False)
  ax = axes[0, 0]
  for label, per_x in series.items():
    xs = [v for v in x if v in per_x]
    mean = np.array([per_x[v].mean() for v in xs])
    lo = np.array([per_x[v].min() for v in xs])
    hi = np.array([per_x[v].max() for v in xs])
    (line,) = ax.plot(xs, mean, marker='o', label=f'{label} (mean; band = seed min-max)')
    ax.fill_between(xs, lo, hi, alpha=0.25, color=line.get_color())
  if reference:
    ref_label, ref = reference
    ax.plot(list(ref), list(ref.values()), 'k--', marker='x', label=ref_label)
  ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
  ax.grid(alpha=0.3)
  ax.legend(fontsize=8)
  if right:
    rlabel, rseries = right
    ax2 = axes[0, 1]
    xs = [v for v in x if v in rseries]
    ax2.bar(
      [str(v) for v in xs],
      [rseries[v].mean() for v in xs],
      yerr=[
        [rseries[v].mean() - rseries[v].min() for v in xs],
        [rseries[v].max() - rseries[v].mean() for v in xs],
      ],
      capsize=3,
    )
    ax2.set(xlabel=xlabel, ylabel=rlabel, title=rlabel)
    ax2.axhline(0, color='k', lw=0.8)
    ax2.grid(alpha=0.3, axis='y')
  return save_figure(fig, path)
