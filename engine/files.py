"""Atomic writes: a reader (or a killed run) never sees half a file.

In a job of several processes only process 0 writes (engine/distributed.py); the others skip.
"""

import csv
import io
import json
import os
import tempfile

from engine import distributed


def write_text(path: str, text: str) -> None:
  if not distributed.is_writer():
    return
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=directory, prefix='.' + os.path.basename(path) + '.')
  try:
    with os.fdopen(fd, 'w') as f:
      f.write(text)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.unlink(tmp)
    raise


def write_json(path: str, obj) -> None:
  write_text(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=True) + '\n')


def write_jsonl(path: str, rows) -> None:
  write_text(path, ''.join(json.dumps(r, sort_keys=True) + '\n' for r in rows))


def write_csv(path: str, header, rows) -> None:
  out = io.StringIO()
  writer = csv.writer(out)
  writer.writerow(header)
  writer.writerows(rows)
  write_text(path, out.getvalue())


def read_json(path: str):
  with open(path) as f:
    return json.load(f)
