"""Batch norm: the verdict on records with known answers; side measurements on real modules."""

import pytest

from experiments import batchnorm as bnx


def _config(shared_datasets=''):
  c = bnx.get_config('quick')
  c.dataset.data_dir = shared_datasets
  c.dataset.allow_standin = False
  c.model.hidden = (16,) * 4  # fewer layers compile faster; 4 show the vanishing signal as well
  return c


@pytest.fixture(scope='module')
def quick(mnist_small, shared_datasets):
  return _config(shared_datasets), mnist_small


def test_steps_to_target_counts_whole_short_epochs():
  record = {'history': {'val_accuracy': [0.5, None, 0.96, 0.97]}}
  assert bnx.steps_to_target(record, 0.95, 200) == 600
  assert bnx.steps_to_target(record, 0.99, 200) is None


def _curve(reach_epoch, epochs=10, final=0.97):
  """Validation accuracy that crosses 0.95 at `reach_epoch` (None: stays at chance)."""
  if reach_epoch is None:
    return [0.11] * epochs
  return [0.5 if e + 1 < reach_epoch else final for e in range(epochs)]


ANALYSIS = {
  'activation_scale': {'bn=False,scale=0.01': [1e-2, 1e-4, 1e-6], 'bn=True,scale=0.01': [0.5] * 3},
  'batch_of_one': {
    'identity': {
      'inputs': 10,
      'max_abs_bn_output_minus_beta': 0.0,
      'max_abs_logit_difference_between_inputs': 0.0,
    },
    'trained': {
      '1': {
        'steps': 50,
        'test_accuracy': 0.1,
        'max_change_hidden_kernels': 0.0,
        'max_change_gamma': 0.0,
        'max_change_beta': 0.0,
      },
      '64': {
        'steps': 50,
        'test_accuracy': 0.9,
        'max_change_hidden_kernels': 0.1,
        'max_change_gamma': 0.1,
        'max_change_beta': 0.1,
      },
    },
  },
  'step_seconds': {
    'False': {'median': 1e-3, 'repeats': 5, 'steps': 100},
    'True': {'median': 1.3e-3, 'repeats': 5, 'steps': 100},
  },
  'parameters': bnx.parameter_accounting(20, 30),
  'reference': {'train_output': 1e-7, 'eval_output': 1e-7, 'running_mean': 0.0, 'running_var': 0.0},
}


def _results(reach, seeds=3, diverged=()):
  """`reach[(scale, lr, bn)]` = the epoch each seed crosses the target (None: never)."""
  records = []
  for (scale, lr, bn), epoch in reach.items():
    for s in range(seeds):
      bad = (scale, lr, bn) in diverged
      curve = _curve(epoch)
      records.append(
        {
          'point': {bnx.BN: bn, bnx.SCALE: scale, bnx.LR: lr},
          'seed': s,
          'diverged': bad,
          'history': {'val_accuracy': curve},
          'final': {'val_accuracy': curve[-1], 'test_accuracy': curve[-1] - 0.001 * s},
        }
      )
  return {
    'config': bnx.get_config().to_dict(),
    'records': records,
    'seeds': seeds,
    'dataset': {'standin': False},
    'analysis': ANALYSIS,
  }


FINDING = {
  (1.0, 0.01, False): 8,
  (1.0, 0.01, True): 3,
  (1.0, 0.1, False): 4,
  (1.0, 0.1, True): 2,
  (1.0, 1.0, False): None,
  (1.0, 1.0, True): 2,
  (0.01, 0.01, False): None,
  (0.01, 0.01, True): 5,
  (0.01, 0.1, False): None,
  (0.01, 0.1, True): 3,
  (0.01, 1.0, False): None,
  (0.01, 1.0, True): 3,
}


def test_the_finding_reproduces_and_a_diverged_plain_net_is_data_not_a_broken_run():
  v = bnx.verdict(_results(FINDING, diverged=[(1.0, 1.0, False)]))
  assert v.outcome == 'REPRODUCED', [(c.claim, c.measured) for c in v.claims if not c.passed]
  assert len(v.claims) == 9
  assert 'lr 0.01: BN [600, 600, 600] vs plain [1600, 1600, 1600]' in v.claims[0].measured
  row = next(
    r for r in v.table if r['lr'] == '1' and r['batch norm'] == 'no' and r['init scale'] == '1'
  )
  assert row['diverged'] == 3 and row['steps to 95% val (per seed)'] == 'never, never, never'


def test_each_broken_claim_fails_its_own_check():
  slower = {**FINDING, (1.0, 0.1, True): 6}
  assert bnx.verdict(_results(slower)).claims[0].passed is False
  plain_copes = {**FINDING, (1.0, 1.0, False): 2}
  assert bnx.verdict(_results(plain_copes)).claims[1].passed is False
  no_rescue = {**FINDING, (0.01, 0.1, True): None}
  v = bnx.verdict(_results(no_rescue))
  assert v.claims[2].passed is False and v.outcome == 'NOT REPRODUCED'
  assert bnx.verdict(_results(FINDING, diverged=[(1.0, 1.0, True)])).outcome == 'INCONCLUSIVE'


def test_parameter_accounting_from_the_real_modules():
  p = bnx.parameter_accounting(20, 30)
  assert p['with dense bias']['trainable'] == {
    'BatchNorm_0/bias': 30,
    'BatchNorm_0/scale': 30,
    'Dense_0/bias': 30,
    'Dense_0/kernel': 600,
  }
  assert p['with dense bias']['running_stats'] == {'BatchNorm_0/mean': 30, 'BatchNorm_0/var': 30}
  assert sum(p['without dense bias']['trainable'].values()) == 660
  assert p['nets.MLP hidden layer']['trainable'] == p['without dense bias']['trainable']


def test_batch_of_one_maps_every_input_to_beta_and_learns_nothing(quick):
  config, dataset = quick
  out = bnx.batch_of_one(config, dataset)
  assert out['identity']['max_abs_bn_output_minus_beta'] == 0.0
  assert out['identity']['max_abs_logit_difference_between_inputs'] == 0.0
  one, usual = out['trained']['1'], out['trained'][str(config.train.batch_size)]
  assert one['max_change_hidden_kernels'] == 0.0 and one['max_change_gamma'] == 0.0
  assert one['test_accuracy'] < 0.2
  assert usual['max_change_hidden_kernels'] > 0 and usual['test_accuracy'] > 0.3


def test_activation_scale_at_init_vanishes_without_bn_and_holds_with_it(quick):
  config, dataset = quick
  scales = bnx.activation_scales(config, dataset.train_x[:64])
  assert set(scales) == {
    'bn=False,scale=1',
    'bn=True,scale=1',
    'bn=False,scale=0.01',
    'bn=True,scale=0.01',
  }
  plain = scales['bn=False,scale=0.01']
  assert len(plain) == 4 and plain[0] / plain[-1] > 1e4
  assert all(0.3 < s < 1.0 for s in scales['bn=True,scale=0.01'])
  assert all(0.1 < s < 10 for s in scales['bn=False,scale=1'])


def test_reference_batch_norm_matches_flax_on_real_activations_and_timing_runs(quick):
  config, dataset = quick
  ref = bnx.reference_agreement(config, dataset.train_x[:64])
  assert max(ref.values()) < 1e-4
  config.analysis.update(dict(timing_steps=3, timing_repeats=1))
  times = bnx.step_times(config, dataset)
  assert set(times) == {'False', 'True'} and all(t['median'] > 0 for t in times.values())
