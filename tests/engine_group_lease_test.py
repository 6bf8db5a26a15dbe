"""Leases on a sweep's groups: one holder at a time, expiry, heartbeats, and the worker flags."""

import dataclasses
import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from engine import group_lease, workers
from engine.errors import UserError


class Clock:
  def __init__(self, now=1000.0):
    self.now = now

  def __call__(self):
    return self.now


def _acquire(path, clock, host, secs=60.0):
  return group_lease.acquire(path, secs, clock=clock, host=host, pid=1)


def test_one_holder_at_a_time_and_release_frees_it(tmp_path):
  path, clock = tmp_path / 'leases' / 'group_000.json', Clock()
  a = _acquire(path, clock, 'hostA')
  assert isinstance(a, group_lease.Lease)
  on_disk = json.loads(path.read_text())
  assert on_disk['host'] == 'hostA' and on_disk['heartbeat'] == 1000.0

  b = _acquire(path, clock, 'hostB')
  assert isinstance(b, group_lease.Holder) and str(b) == 'hostA:1'
  a.release()
  assert not path.exists()
  assert isinstance(_acquire(path, clock, 'hostB'), group_lease.Lease)
  assert [p.name for p in path.parent.iterdir()] == ['group_000.json']  # no temporaries left


def test_an_expired_lease_is_taken_over_and_its_old_holder_knows(tmp_path):
  path, clock = tmp_path / 'g.json', Clock()
  a = _acquire(path, clock, 'hostA', secs=60)
  clock.now += 59
  assert isinstance(_acquire(path, clock, 'hostB'), group_lease.Holder)  # not yet expired
  clock.now += 2
  b = _acquire(path, clock, 'hostB')
  assert isinstance(b, group_lease.Lease)
  assert group_lease.read(path).host == 'hostB'
  assert a.refresh() is False and a.lost  # the old holder learns it lost the lease
  a.release()  # and releasing it does not remove the new holder's lease
  assert group_lease.read(path).host == 'hostB'


def test_refreshing_keeps_a_lease_alive_past_its_length(tmp_path):
  path, clock = tmp_path / 'g.json', Clock()
  a = _acquire(path, clock, 'hostA', secs=60)
  for _ in range(5):
    clock.now += 40
    assert a.refresh()
  assert clock.now - 1000.0 == 200  # far past 60 s since it was taken
  assert isinstance(_acquire(path, clock, 'hostB'), group_lease.Holder)
  assert group_lease.read(path).heartbeat == clock.now


def test_heartbeat_thread_refreshes_until_the_block_ends(tmp_path):
  path = tmp_path / 'g.json'
  lease = group_lease.acquire(path, 60.0)
  first = group_lease.read(path).heartbeat
  with group_lease.heartbeat(lease, every=0.02):
    time.sleep(0.2)
  beat = group_lease.read(path).heartbeat
  assert beat > first
  time.sleep(0.1)
  assert group_lease.read(path).heartbeat == beat  # stopped with the block


def test_a_dead_process_on_this_host_frees_its_lease_at_once(tmp_path):
  path = tmp_path / 'g.json'
  done = subprocess.run(
    [sys.executable, '-c', 'import os; print(os.getpid())'], capture_output=True
  )
  dead_pid = int(done.stdout)
  clock = Clock(time.time())
  held = group_lease.acquire(path, 3600, clock=clock, host=socket.gethostname(), pid=dead_pid)
  assert isinstance(held, group_lease.Lease)
  mine = group_lease.acquire(path, 3600, clock=clock)
  assert isinstance(mine, group_lease.Lease) and mine.holder.pid == os.getpid()
  # a live process of this host keeps it (this one, seen from another "worker")
  assert isinstance(group_lease.acquire(path, 3600, clock=clock, pid=12), group_lease.Holder)


def test_a_damaged_lease_file_counts_as_held_for_a_while(tmp_path):
  path = tmp_path / 'g.json'
  path.write_text('{"host": "half')
  clock = Clock(os.stat(path).st_mtime)
  assert isinstance(_acquire(path, clock, 'hostB'), group_lease.Holder)
  clock.now += group_lease.UNREADABLE_SECS + 1
  assert isinstance(_acquire(path, clock, 'hostB'), group_lease.Lease)


def test_many_threads_racing_for_one_expired_lease_get_exactly_one(tmp_path):
  """The race is rare per round (one breaker must stall between two others), so many rounds."""
  for round_ in range(40):
    path, clock = tmp_path / f'g{round_}.json', Clock()
    _acquire(path, clock, 'dead', secs=1)  # expired: every racer tries to take it over at once
    clock.now += 10
    got, barrier = [], threading.Barrier(8)

    def race(i, path=path, clock=clock, barrier=barrier, got=got):
      barrier.wait()
      got.append(_acquire(path, clock, f'host{i}'))

    threads = [threading.Thread(target=race, args=(i,)) for i in range(8)]
    for t in threads:
      t.start()
    for t in threads:
      t.join()
    winners = [g for g in got if isinstance(g, group_lease.Lease)]
    assert len(winners) == 1, f'round {round_}: {[str(w.holder) for w in winners]}'
    assert group_lease.read(path).host == winners[0].holder.host
  assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f'g{r}.json' for r in range(40))


def test_worker_shards_split_the_groups():
  spec = workers.from_flags(1, '1/3', 60.0)
  assert [i for i in range(8) if spec.assigned(i)] == [1, 4, 7]
  env = {'SLURM_ARRAY_TASK_ID': '3', 'SLURM_ARRAY_TASK_COUNT': '3', 'SLURM_ARRAY_TASK_MIN': '1'}
  assert workers.from_flags(1, 'slurm', 60.0, environ=env) == workers.Worker(2, 3, 60.0)
  assert workers.from_flags(4, '', 60.0) == workers.Worker(0, 1, 60.0)
  assert workers.cpu_shares(2, [0, 1, 2, 3, 4]) == [[0, 2, 4], [1, 3]]
  assert workers.cpu_shares(3, [0, 1]) == [[0], [1], [0]]


@pytest.mark.parametrize(
  'args, says',
  [
    ((0, '', 60.0), 'at least 1'),
    ((1, '3/2', 60.0), 'numbered 0 to n-1'),
    ((1, '1/0', 60.0), 'numbered 0 to n-1'),
    ((1, 'two', 60.0), 'not of the form i/n'),
    ((1, 'slurm', 60.0), 'SLURM job array'),
    ((2, '0/2', 60.0), 'Pass one of them'),
    ((1, '', 0.0), 'positive number of seconds'),
  ],
)
def test_bad_worker_flags_are_refused(args, says):
  with pytest.raises(UserError, match=says):
    workers.from_flags(*args, environ={})


def test_taking_over_a_lease_renewed_meanwhile_leaves_it_alone(tmp_path):
  path, clock = tmp_path / 'g.json', Clock()
  a = _acquire(path, clock, 'hostA', secs=60)
  judged = group_lease.read(path)  # a second worker reads it, and judges it expired...
  clock.now += 30
  assert a.refresh()  # ...but its holder refreshes it before that worker takes it over
  b = dataclasses.replace(judged, host='hostB', token='b')
  assert not group_lease._take_over(str(path), judged, b, clock)
  assert group_lease.read(path).heartbeat == clock.now and a.refresh()
  assert [p.name for p in tmp_path.iterdir()] == ['g.json']


def test_a_breaker_that_died_mid_break_holds_up_others_only_for_a_while(tmp_path):
  path, clock = tmp_path / 'g.json', Clock()
  _acquire(path, clock, 'dead', secs=1)
  _acquire(tmp_path / 'g.json.breaking', clock, 'crashed', secs=group_lease.UNREADABLE_SECS)
  clock.now += 10
  assert isinstance(_acquire(path, clock, 'hostB'), group_lease.Holder)  # waits its turn
  clock.now += group_lease.UNREADABLE_SECS
  assert isinstance(_acquire(path, clock, 'hostB'), group_lease.Lease)
  assert [p.name for p in tmp_path.iterdir()] == ['g.json']
