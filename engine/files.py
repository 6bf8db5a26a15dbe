"""Atomic writes: a reader (or a killed run) never sees half a file.

In a job of several processes only process 0 writes (engine/distributed.py); the others skip.
Files get the mode a plain `open` would give them (0666 less the umask), not mkstemp's 0600, so
a group sharing the work dir can read them.
"""

import csv
import errno
import io
import json
import os
import tempfile

from engine import distributed
from engine.errors import UserError


def _umask() -> int:
  mask = os.umask(0)
  os.umask(mask)
  return mask


_UMASK = _umask()  # read once, at import: os.umask sets it too, which races with other threads


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
    os.chmod(tmp, 0o666 & ~_UMASK)
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


def check_workdir(workdir: str) -> None:
  """UserError unless `workdir` is, or can be created as, a writable directory; leaves nothing.

  The nearest existing ancestor must be a directory this process can create a directory in."""
  path = os.path.abspath(workdir)
  if os.path.exists(path) and not os.path.isdir(path):
    raise UserError(f'--workdir={workdir} is a file, not a directory. Pass a directory path.')
  probe = path
  while not os.path.exists(probe):
    probe = os.path.dirname(probe)
  if not os.path.isdir(probe):
    raise UserError(
      f'--workdir={workdir} cannot be created: {probe} is a file, not a directory. Pass a '
      'path under a directory.'
    )
  try:  # what the filesystem says (root, ACLs, read-only mounts, /proc), not what modes suggest
    os.rmdir(tempfile.mkdtemp(dir=probe, prefix='.jax-findings-probe-'))
  except OSError as e:
    what = 'the work dir' if probe == path else f'{probe}, where it would be created,'
    raise UserError(
      f'--workdir={workdir} is not writable: {what} cannot be written in ({e.strerror}). '
      'Pass a directory you can write to.'
    ) from None


_CAUSES = {
  errno.ENOSPC: 'the disk is full (no space left on device)',
  errno.EDQUOT: 'the disk quota is exceeded',
  errno.EROFS: 'the filesystem is read-only',
  errno.EACCES: 'permission denied',
  errno.EPERM: 'operation not permitted',
  errno.ENOTDIR: 'a part of the path is a file, not a directory',
  errno.ENOENT: 'a directory on the path does not exist (or cannot be created there)',
}


def os_cause(error: BaseException) -> OSError | None:
  """The OSError behind `error` (itself, a cause or context of it), or one read from the text of
  an error that wraps it (orbax and tensorstore report 'No space left on device' as text)."""
  seen = set()
  while error is not None and id(error) not in seen:
    seen.add(id(error))
    if isinstance(error, OSError) and error.errno in _CAUSES:
      return error
    text = str(error)
    for code in _CAUSES:
      if os.strerror(code) in text and code in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
        return OSError(code, os.strerror(code))
    error = error.__cause__ or error.__context__
  return None


def explain_os_error(error: BaseException, workdir: str) -> str | None:
  """One paragraph naming the cause of a failed write, or None for an error of another kind."""
  cause = os_cause(error)
  if cause is None:
    return None
  where = f' ({cause.filename})' if cause.filename else ''
  return (
    f'Could not write in the work dir {workdir}: {_CAUSES[cause.errno]}{where}. '
    'Free space or fix the permissions, or pass another --workdir; groups finished before '
    'this are kept, and the same command resumes from them.'
  )
