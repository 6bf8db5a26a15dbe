"""Atomic writes: a reader (or a killed run) never sees half a file; work dirs local or remote.

In a job of several processes only process 0 writes (engine/distributed.py); the others skip.
Files get the mode a plain `open` would give them (0666 less the umask), not mkstemp's 0600, so
a group sharing the work dir can read them. Paths go through `etils.epath`, so a work dir may be
`gs://bucket/run` (or s3://, az://) where that filesystem's library is installed; a remote object
is written whole when it is closed.
"""

import csv
import errno
import importlib.util
import io
import json
import os
import re
import tempfile

from etils import epath

from engine import distributed
from engine.errors import UserError


def _umask() -> int:
  mask = os.umask(0)
  os.umask(mask)
  return mask


_UMASK = _umask()  # read once, at import: os.umask sets it too, which races with other threads

_SCHEME = re.compile(r'^([A-Za-z][A-Za-z0-9+.-]+):(//)?')
REMOTE = {  # epath's schemes -> (what it is, the fsspec protocol, the package that provides it)
  'gs': ('Google Cloud Storage', 'gcs', 'gcsfs'),
  's3': ('Amazon S3', 's3', 's3fs'),
  'az': ('Azure Blob Storage', 'az', 'adlfs'),
}


def _fresh_listings() -> None:
  """Remote filesystems list afresh: gcsfs and s3fs keep a directory listing forever by default,
  while tensorstore (orbax's checkpoint arrays) and other workers write beside them, so a cached
  listing would hide a new checkpoint or show a deleted one."""
  try:
    import fsspec  # pylint: disable=g-import-not-at-top
  except ImportError:
    return
  for _, protocol, _ in REMOTE.values():
    fsspec.config.conf.setdefault(protocol, {}).setdefault('use_listings_cache', False)


_fresh_listings()


def is_remote(path) -> bool:
  m = _SCHEME.match(os.fspath(path))
  return bool(m and m.group(2) and m.group(1) in REMOTE)


def workdir(text: str) -> str:
  """The work dir `text` names, checked before anything is written: a local path (`file://`
  URIs become one) or a remote URI whose filesystem library is installed; else UserError."""
  m = _SCHEME.match(text)
  if not m:
    return text
  scheme, slashes = m.group(1), m.group(2)
  if not slashes:
    raise UserError(
      f'--workdir={text} looks like a URI without its `//` (it would become a local directory '
      f'named `{scheme}:`). Write {scheme}://BUCKET/PATH for remote storage, or ./{text} for a '
      'local directory whose name has a colon.'
    )
  if scheme == 'file':
    rest = text[len('file://') :]
    host, _, local = rest.partition('/')
    if host not in ('', 'localhost'):
      raise UserError(f'--workdir={text} names the host {host!r}; file:// URIs must be local.')
    return '/' + local
  if scheme not in REMOTE:
    raise UserError(
      f'--workdir={text}: `{scheme}://` is not storage a work dir can live on here. Pass a '
      'local or shared (NFS, Lustre, mounted bucket) path, or a '
      f'{", ".join(s + "://" for s in REMOTE)} URI, which go through etils.epath.'
    )
  what, protocol, package = REMOTE[scheme]
  if importlib.util.find_spec('tensorflow') is None:
    try:
      import fsspec  # pylint: disable=g-import-not-at-top

      fsspec.get_filesystem_class(protocol)
    except (ImportError, ValueError):
      raise UserError(
        f'--workdir={text} is on {what}, which etils.epath reaches through the `{package}` '
        f'package (or TensorFlow); neither is installed here. Install it (pip install '
        f'{package}) and set up its credentials, or pass a local path or a mounted bucket.'
      ) from None
  return text


def exists(path) -> bool:
  return epath.Path(path).exists()


def makedirs(path) -> None:
  epath.Path(path).mkdir(parents=True, exist_ok=True)


def write_text(path: str, text: str) -> None:
  write_bytes(path, text.encode())


def write_bytes(path: str, data: bytes) -> None:
  if not distributed.is_writer():
    return
  if is_remote(path):
    epath.Path(path).write_bytes(data)
    return
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=directory, prefix='.' + os.path.basename(path) + '.')
  try:
    with os.fdopen(fd, 'wb') as f:
      f.write(data)
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
  return json.loads(epath.Path(path).read_text())


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
