"""An interrupt during the epoch-end evaluation saves, and the resume gives the same numbers."""

import numpy as np
import pytest
from conftest import tiny_config, train_group

from engine import loop, preemption, sweep


@pytest.mark.parametrize('interrupt', [KeyboardInterrupt, preemption.Preempted])
def test_an_interrupt_during_evaluation_saves_and_the_resume_is_exact(
  mnist_small, tmp_path, monkeypatch, interrupt
):
  c = tiny_config()  # checkpoint_every_secs=1e9: only epoch ends and interrupts save
  dev = loop.put_on_device(mnist_small, c.train.eval_train_size, c.train.eval_batch_size)
  [group] = sweep.groups(c)
  straight = train_group(group, c, dev, str(tmp_path / 'a'), progress=False)
  real_programs = loop.programs
  calls = []

  def interrupting_programs(*args):
    progs = real_programs(*args)

    def evaluate(*a):
      calls.append(1)
      # 1 call measures the initial loss, 5 evaluate an epoch (2 train, 1 val, 2 test batches):
      # call 9 is inside the second epoch's evaluation.
      if len(calls) == 9:
        raise interrupt()
      return progs.eval(*a)

    return progs._replace(eval=evaluate)

  monkeypatch.setattr(loop, 'programs', interrupting_programs)
  with pytest.raises(interrupt):
    train_group(group, c, dev, str(tmp_path / 'b'), progress=False)
  monkeypatch.setattr(loop, 'programs', real_programs)
  logs = []
  resumed = train_group(group, c, dev, str(tmp_path / 'b'), progress=False, log=logs.append)
  assert any('resuming from checkpoint at epoch 1, step 16' in m for m in logs), logs
  for a, b in zip(straight, resumed):
    for k in a['history']:
      np.testing.assert_array_equal(a['history'][k], b['history'][k], err_msg=k)
