import json
import subprocess
import sys
import threading
import time

import pytest

from engine import all_findings, group_lease

NAMES = ('a', 'b', 'c', 'd', 'e', 'f')


def _runner(calls, lock, seconds=0.05):
  def run_one(name):
    with lock:
      calls.append(name)
    time.sleep(seconds)
    return all_findings.Row(name, f'REPRODUCED {name}', seconds, f'/runs/{name}')

  return run_one


def test_workers_at_once_run_each_finding_exactly_once(tmp_path):
  calls, lock = [], threading.Lock()
  ran = {}

  def worker(i):
    ran[i] = all_findings.work(
      NAMES, _runner(calls, lock), str(tmp_path), worker=f'w{i}', lease_secs=30, announce=str
    )

  threads = [threading.Thread(target=worker, args=(i,)) for i in range(3)]
  for t in threads:
    t.start()
  for t in threads:
    t.join()
  assert sorted(calls) == list(NAMES)
  assert sorted(r.finding for rows in ran.values() for r in rows) == list(NAMES)
  assert sum(bool(rows) for rows in ran.values()) >= 2  # the findings were shared out
  rows = all_findings.collect(NAMES, str(tmp_path), 'NOT FINISHED')
  assert [r.finding for r in rows] == list(NAMES)
  assert [r.outcome for r in rows] == [f'REPRODUCED {n}' for n in NAMES]
  assert {r.worker for r in rows} <= {'w0', 'w1', 'w2'}
  assert not any(r.failed for r in rows)


def test_a_rerun_of_the_same_job_runs_nothing_and_keeps_the_rows(tmp_path):
  calls, lock = [], threading.Lock()
  all_findings.work(NAMES[:2], _runner(calls, lock, 0), str(tmp_path), worker='w', lease_secs=30)
  again = all_findings.work(
    NAMES[:2], _runner(calls, lock, 0), str(tmp_path), worker='w', lease_secs=30
  )
  assert calls == list(NAMES[:2]) and again == []
  row = json.loads((tmp_path / 'a.json').read_text())
  assert row['outcome'] == 'REPRODUCED a' and row['workdir'] == '/runs/a'


def test_a_finding_claimed_by_a_live_worker_is_left_to_it(tmp_path):
  held = group_lease.acquire(str(tmp_path / 'leases' / 'b.json'), 30)
  assert isinstance(held, group_lease.Lease)
  calls, lock = [], threading.Lock()
  all_findings.work(NAMES[:3], _runner(calls, lock, 0), str(tmp_path), worker='w', lease_secs=30)
  assert calls == ['a', 'c']
  rows = all_findings.collect(NAMES[:3], str(tmp_path), 'NOT FINISHED (a worker exited with 1)')
  assert rows[1].outcome.startswith('NOT FINISHED') and rows[1].failed
  assert rows[1].seconds != rows[1].seconds  # nan: never measured


def test_a_finding_whose_worker_died_is_taken_over(tmp_path):
  dead = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'], check=True,
                        capture_output=True, text=True)  # fmt: skip
  lease = group_lease.acquire(str(tmp_path / 'leases' / 'a.json'), 30, pid=int(dead.stdout))
  assert isinstance(lease, group_lease.Lease)
  calls, lock = [], threading.Lock()
  all_findings.work(NAMES[:1], _runner(calls, lock, 0), str(tmp_path), worker='w', lease_secs=30)
  assert calls == ['a']


def test_a_failed_finding_is_a_failed_row():
  assert all_findings.Row('x', 'FAILED: no data', 1.0).failed
  assert not all_findings.Row('x', 'NOT RUN (its dataset is not on this machine)', 1.0).failed
  assert not all_findings.Row('x', 'NOT REPRODUCED', 1.0).failed


@pytest.mark.parametrize(
  'backend,cpus,expected', [('cpu', 1, 1), ('cpu', 2, 2), ('cpu', 64, 4), ('gpu', 8, 1)]
)
def test_default_workers_is_one_per_core_on_cpu_only(backend, cpus, expected):
  assert all_findings.default_workers(backend, cpus) == expected


def test_the_workers_of_a_job_find_its_directory_from_its_start_time():
  started = time.time()
  assert all_findings.job_dir('runs', started) == all_findings.job_dir('runs', float(repr(started)))
  assert all_findings.job_dir('runs', started) != all_findings.job_dir('runs', started + 1e-3)


def test_a_process_that_writes_no_files_still_reports_what_it_ran(tmp_path, monkeypatch):
  """A process of a jax.distributed job other than process 0 writes nothing, rows included."""
  from engine import distributed

  monkeypatch.setattr(distributed, 'is_writer', lambda: False)
  calls, lock = [], threading.Lock()
  ran = all_findings.work(
    NAMES[:2], _runner(calls, lock, 0), str(tmp_path), worker='w', lease_secs=30
  )
  assert not list(tmp_path.glob('*.json'))
  rows = all_findings.collect(NAMES[:2], str(tmp_path), 'NOT FINISHED', ran)
  assert [r.outcome for r in rows] == ['REPRODUCED a', 'REPRODUCED b']
