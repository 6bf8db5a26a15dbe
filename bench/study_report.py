"""Markdown tables from bench/results/study.jsonl (one per group x env).

  python -m bench.study_report [FILE]
"""

from __future__ import annotations

import json
import os
import sys

DEFAULT = os.path.join(os.path.dirname(__file__), 'results', 'study.jsonl')


def tables(path: str = DEFAULT) -> str:
  with open(path) as f:
    runs = [json.loads(line) for line in f if line.strip()]
  out = []
  for r in runs:
    m = r['machine']
    threads = len(r.get('pinned_cpus', [])) or m['threads']
    out.append(f"### {r['group']} @ {r['label']} ({threads} thread(s))\n")
    out.append(f"{(r.get('doc') or '').strip()}  "
               f"XLA_FLAGS=`{m['env'].get('XLA_FLAGS') or ''}` "
               f"GLIBC_TUNABLES=`{m['env'].get('GLIBC_TUNABLES') or ''}` "
               f"unrolled threefry={r.get('unrolled_threefry')}\n")
    out.append('| variant | samples/s | vs torch f32 | compile+1st call s | other cores | clean |')
    out.append('|---|---:|---:|---:|---:|:-:|')
    for k, v in r['results'].items():
      per_model = ' (10 models: %.0f/model)' % (v['samples_per_s'] / 10) if '10 models' in k else ''
      ratio = v['ratio_vs_torch_f32'] / (10 if '10 models' in k else 1)
      out.append(f"| {k}{per_model} | {v['samples_per_s']:.0f} | {ratio:.2f}x | "
                 f"{v['compile_s'] if v['compile_s'] is not None else '-'} | "
                 f"{v['other_cores']} | {'y' if v['clean'] else 'n'} |")
    out.append('')
  return '\n'.join(out)


if __name__ == '__main__':
  print(tables(sys.argv[1] if len(sys.argv) > 1 else DEFAULT))
