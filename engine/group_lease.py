"""Leases in a shared work dir: any number of workers train one sweep, each group exactly once.

A lease is a small JSON file (host, pid, a random token, the last heartbeat and how long it
lasts) that appears atomically with its whole content: it is written under a private name and
hard-linked into place, and `link` fails if the name exists, on local disks and NFS alike. The
holder's heartbeat rewrites it while it works. A lease is free again when its holder releases
it, when its heartbeat is older than its `lease_secs` (a crashed or cut-off worker on any host),
or at once when its holder was a process of this very host that no longer runs.

In a remote work dir (gs://, s3://, az://) there are no links or renames; a lease appears with
its whole content through the store's own conditional create (fsspec's `pipe_file(mode='create')`:
GCS `ifGenerationMatch=0`, S3 `If-None-Match: *`), which fails if the object exists; a refresh
or takeover overwrites the object whole.
"""

import contextlib
import dataclasses
import json
import os
import socket
import threading
import time
import uuid

from absl import logging
from etils import epath

from engine import files


@dataclasses.dataclass(frozen=True)
class Holder:
  """Who holds a lease, as its file says."""

  host: str
  pid: int
  token: str
  heartbeat: float  # the holder's clock at its last refresh
  lease_secs: float

  def __str__(self) -> str:
    return f'{self.host}:{self.pid}'

  def expired(self, now: float) -> bool:
    return now > self.heartbeat + self.lease_secs or self._dead_here()

  def _dead_here(self) -> bool:
    """A holder on this host whose process is gone: its lease need not wait to expire."""
    if self.host != socket.gethostname() or self.pid == os.getpid():
      return False
    try:
      os.kill(self.pid, 0)
    except ProcessLookupError:
      return True
    except PermissionError:  # alive, another user's
      return False
    return False


UNREADABLE_SECS = 60.0  # a lease file being written or damaged counts as held this long


def read(path) -> Holder | None:
  """The holder of the lease at `path`, or None when there is none."""
  path = os.fspath(path)
  try:
    return Holder(**json.loads(epath.Path(path).read_text()))
  except FileNotFoundError:
    return None
  except (OSError, ValueError, TypeError):  # not ours or damaged: judged by its age alone
    try:
      mtime = epath.Path(path).stat().mtime if files.is_remote(path) else os.stat(path).st_mtime
    except FileNotFoundError:
      return None
    return Holder('unknown', -1, 'unreadable', mtime, UNREADABLE_SECS)


class Lease:
  """A lease this process holds; `refresh` it more often than `lease_secs`, then `release` it."""

  def __init__(self, path, holder: Holder, clock):
    self.path, self.holder, self._clock = os.fspath(path), holder, clock
    self.lost = False

  def refresh(self) -> bool:
    """Moves the heartbeat to now; False (and `lost`) if another worker has taken the lease."""
    current = read(self.path)
    if self.lost or current is None or current.token != self.holder.token:
      self.lost = True
      return False
    self.holder = dataclasses.replace(self.holder, heartbeat=self._clock())
    _replace(self.path, self.holder)
    return True

  def release(self) -> None:
    current = read(self.path)
    if current is not None and current.token == self.holder.token:
      _remove(self.path)


def _text(holder: Holder) -> str:
  return json.dumps(dataclasses.asdict(holder))


def _create(path: str, holder: Holder) -> bool:
  """Puts `holder` at `path` whole unless `path` exists; False if it does."""
  if not files.is_remote(path):
    return _link(_write_private(path, holder), path)
  import fsspec  # pylint: disable=g-import-not-at-top

  fs, key = fsspec.core.url_to_fs(path)
  try:
    fs.pipe_file(key, _text(holder).encode(), mode='create')
  except FileExistsError:
    return False
  return True


def _replace(path: str, holder: Holder) -> None:
  """Puts `holder` at `path` whole, over what is there, in one step."""
  if files.is_remote(path):
    epath.Path(path).write_text(_text(holder))
  else:
    os.replace(_write_private(path, holder), path)


def _remove(path: str) -> None:
  with contextlib.suppress(FileNotFoundError):
    epath.Path(path).unlink()


def _write_private(path: str, holder: Holder) -> str:
  tmp = f'{path}.{holder.token}.{uuid.uuid4().hex[:8]}.tmp'
  with open(tmp, 'w') as f:
    f.write(_text(holder))
    f.flush()
    os.fsync(f.fileno())
  return tmp


def _link(tmp: str, path: str) -> bool:
  """Puts `tmp` at `path` unless `path` exists; where hard links are not supported (some FUSE
  mounts of buckets), an exclusive create, whose brief empty state readers wait out."""
  try:
    os.link(tmp, path)
    return True
  except FileExistsError:
    return False
  except OSError:
    try:
      fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
      return False
    with os.fdopen(fd, 'w') as f, open(tmp) as src:
      f.write(src.read())
    return True
  finally:
    os.unlink(tmp)


def acquire(
  path, lease_secs: float, *, clock=time.time, host: str | None = None, pid: int | None = None
) -> Lease | Holder:
  """Takes the lease at `path` if it is free or expired: returns the Lease, else its Holder."""
  path = os.fspath(path)
  if not files.is_remote(path):  # an object store has no directories to create
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  me = Holder(
    host or socket.gethostname(), os.getpid() if pid is None else pid, uuid.uuid4().hex,
    clock(), float(lease_secs),
  )  # fmt: skip
  for _ in range(5):
    if _create(path, me):
      return Lease(path, me, clock)
    current = read(path)
    if current is None:
      continue  # released in between: try again
    if not current.expired(clock()):
      return current
    if _take_over(path, current, me, clock):
      return Lease(path, me, clock)
  return read(path) or me


def _take_over(path: str, stale: Holder, me: Holder, clock) -> bool:
  """Replaces the expired lease `stale` with `me`, and only it. Breakers take turns under a
  second lease (`<path>.breaking`) so that of several racing for one expired lease exactly one
  replaces it; the rest then find it fresh. The replacement is one atomic rename, so the lease
  file never goes missing for a third worker to create in between."""
  lock = f'{path}.breaking'
  breaker = dataclasses.replace(me, lease_secs=UNREADABLE_SECS)
  if not _create(lock, breaker):
    held = read(lock)
    if held is not None and held.expired(clock()):  # a breaker that died mid-break
      _remove(lock)
    return False
  try:
    current = read(path)
    if current is None or (current.token, current.heartbeat) != (stale.token, stale.heartbeat):
      return False  # released or renewed since we looked
    _replace(path, me)
    logging.warning('Lease %s of %s expired; taking it over.', path, stale)
    return True
  finally:
    _remove(lock)


@contextlib.contextmanager
def heartbeat(lease: Lease, every: float):
  """Refreshes `lease` every `every` seconds in a background thread while the block runs."""
  stop = threading.Event()

  def beat():
    while not stop.wait(every):
      try:
        if not lease.refresh():
          logging.warning('Lost the lease %s to another worker.', lease.path)
          return
      except OSError as e:  # a full or unreachable disk: try again at the next beat
        logging.warning('Could not refresh the lease %s: %s', lease.path, e)

  thread = threading.Thread(target=beat, name=f'lease {lease.path}', daemon=True)
  thread.start()
  try:
    yield lease
  finally:
    stop.set()
    thread.join()
