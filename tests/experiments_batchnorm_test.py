"""Batch norm: the verdict on records with known answers; side measurements on real modules."""

import pytest

from engine import verdict as v
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


# (b), (c): BN's gradients move less when earlier layers learn; its output units are more even.
MEASURES = {
  'cos': [0.80, 0.82, 0.81],
  'rel': [0.5, 0.5, 0.5],
  'dense_spread': [0.30, 0.32, 0.31],
  'bn_spread': [0.05, 0.06, 0.05],
}
PLAIN = {
  'cos': [0.50, 0.55, 0.52],
  'rel': [0.9] * 3,
  'dense_spread': [0.4] * 3,
  'bn_spread': [None] * 3,
}
NAME_ERROR = "NameError: name 'X' is not defined"
CLOSE = {
  'errors': {'train': None, 'test': None},
  'train_output': 1e-6,
  'running_mean': 1e-9,
  'running_var': 1e-8,
  'eval_output': 1e-7,
}

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
  'coupling': {
    'lr': 0.1,
    'init_scale': 1.0,
    'batch': 512,
    'True': {'init': MEASURES, 'trained': MEASURES},
    'False': {'init': PLAIN, 'trained': PLAIN},
  },
  'document_code': {
    'eps': 1e-5,
    'beta_avg': 0.99,
    'versions': {
      'as written': {
        'errors': {'train': NAME_ERROR, 'test': NAME_ERROR},
        'constant_feature': None,
        'constant_feature_eps_0': None,
      },
      'corrected': {**CLOSE, 'constant_feature': True, 'constant_feature_eps_0': False},
      'printed formula': {**CLOSE, 'constant_feature': False, 'constant_feature_eps_0': False},
    },
  },
}


def _results(reach, seeds=3, diverged=(), analysis=None):
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
    'analysis': analysis or ANALYSIS,
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


def _row(verdict, id_, claim=''):
  return next(c for c in verdict.claims if c.id == id_ and claim in c.claim)


def test_every_row_on_records_with_known_answers():
  out = bnx.verdict(_results(FINDING, diverged=[(1.0, 1.0, False)]))
  assert len(out.claims) == 16
  assert [c.id for c in out.claims[:4]] == [f'003 P11.1({p})' for p in 'abcd']
  a, b, c, d = out.claims[:4]
  assert a.result == b.result == c.result == v.HOLDS
  # (d), answered False: BN trains from the tiny init where the plain net never does
  assert d.result == v.DOCUMENT_WRONG and d.correct.startswith('True') and d.value == 3
  own = [c for c in out.claims if c.id == 'own']
  assert all(c.result == v.HOLDS for c in own), [(c.claim, c.measured) for c in own if not c.passed]
  steps = _row(out, 'own', 'fewer steps')
  assert 'lr 0.01: BN [600, 600, 600] vs plain [1600, 1600, 1600]' in steps.measured
  written, formula, corrected = [c for c in out.claims if c.id == '003 P11.2']
  assert written.result == v.DOCUMENT_WRONG and NAME_ERROR in written.measured
  assert 'np.sqrt(var + eps)' in written.correct
  assert formula.result == v.DOCUMENT_WRONG and 'sqrt(sigma^2 + eps)' in formula.correct
  assert corrected.result == v.HOLDS and not corrected.primary
  assert _row(out, '003 P11.3').result == v.HOLDS
  assert [c.result for c in out.claims if c.id == '003 P11.4'] == [v.HOLDS, v.HOLDS]
  count = _row(out, '003 P11.5')
  assert (count.result, count.document, count.correct) == (v.DOCUMENT_WRONG, '660', '690')
  # (d) is a primary row the document gets wrong: the exam's answers are not all reproduced
  assert out.outcome == 'NOT REPRODUCED'
  row = next(
    r for r in out.table if r['lr'] == '1' and r['batch norm'] == 'no' and r['init scale'] == '1'
  )
  assert row['diverged'] == 3 and row['steps to 95% val (per seed)'] == 'never, never, never'


def test_the_student_s_answers_hold_or_fail_with_the_measurement():
  no_rescue = {**FINDING, **{(0.01, lr, True): None for lr in (0.01, 0.1, 1.0)}}
  out = bnx.verdict(_results(no_rescue))
  assert _row(out, '003 P11.1(d)').result == v.HOLDS  # False holds when BN cannot train from it
  assert _row(out, 'own', 'tiny init').result == v.DOES_NOT_HOLD
  seconds = {'False': {'median': 1e-3, 'repeats': 5, 'steps': 100}}
  seconds['True'] = {**seconds['False'], 'median': 0.8e-3}
  faster = {**ANALYSIS, 'step_seconds': seconds}
  a = _row(bnx.verdict(_results(FINDING, analysis=faster)), '003 P11.1(a)')
  assert a.result == v.DOCUMENT_WRONG and a.value == pytest.approx(0.8)
  coupled = {**MEASURES, 'cos': [0.30, 0.32, 0.31], 'bn_spread': [0.5, 0.6, 0.55]}
  worse = {
    **ANALYSIS,
    'coupling': {**ANALYSIS['coupling'], 'True': {'init': coupled, 'trained': coupled}},
  }
  out = bnx.verdict(_results(FINDING, analysis=worse))
  assert _row(out, '003 P11.1(b)').result == v.DOCUMENT_WRONG
  assert _row(out, '003 P11.1(c)').result == v.DOCUMENT_WRONG
  tie = {**MEASURES, 'cos': [0.45, 0.60, 0.52]}  # within the seed spread of the plain net's
  even = {**ANALYSIS, 'coupling': {**ANALYSIS['coupling'], 'True': {'init': tie, 'trained': tie}}}
  out = bnx.verdict(_results(FINDING, analysis=even))
  assert _row(out, '003 P11.1(b)').result == v.INCONCLUSIVE and out.outcome == 'INCONCLUSIVE'


def test_each_broken_own_claim_fails_its_own_check():
  slower = {**FINDING, (1.0, 0.1, True): 6}
  assert _row(bnx.verdict(_results(slower)), 'own', 'fewer steps').result == v.DOES_NOT_HOLD
  plain_copes = {**FINDING, (1.0, 1.0, False): 2}
  assert _row(bnx.verdict(_results(plain_copes)), 'own', 'largest rate').passed is False
  no_rescue = {**FINDING, (0.01, 0.1, True): None}
  out = bnx.verdict(_results(no_rescue))
  assert _row(out, 'own', 'tiny init').passed is False and out.outcome == 'NOT REPRODUCED'
  # BN still trains from the tiny init at the other rates: (d) is still true
  assert _row(out, '003 P11.1(d)').result == v.DOCUMENT_WRONG
  diverged = bnx.verdict(_results(FINDING, diverged=[(1.0, 1.0, True)]))
  assert diverged.outcome == 'INCONCLUSIVE'
  assert _row(diverged, '003 P11.1(d)').shown == 'INCONCLUSIVE (this run: DOCUMENT WRONG)'
  assert _row(diverged, '003 P11.5').result == v.DOCUMENT_WRONG  # counted, not trained


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
  layer = bnx.first_layer(config, dataset.train_x[:64])
  ref = bnx.reference_agreement(config, None, layer)
  assert max(ref.values()) < 1e-4
  code = bnx.document_code(config, None, layer)['versions']
  written = code['as written']
  assert written['errors'] == {'train': NAME_ERROR, 'test': NAME_ERROR}
  fixed = code['corrected']
  assert fixed['errors'] == {'train': None, 'test': None}
  diffs = [fixed[k] for k in ('train_output', 'running_mean', 'running_var', 'eval_output')]
  assert max(diffs) < 1e-4
  assert fixed['constant_feature'] is True and fixed['constant_feature_eps_0'] is False
  assert code['printed formula']['constant_feature'] is False
  config.analysis.update(dict(timing_steps=3, timing_repeats=1))
  times = bnx.step_times(config, dataset)
  assert set(times) == {'False', 'True'} and all(t['median'] > 0 for t in times.values())


def test_gradient_coupling_and_unit_spread_at_init(quick):
  config, dataset = quick
  out = bnx.layer_coupling(config, dataset, {'records': []}, '/nonexistent')
  assert out['True']['trained'] is None and out['False']['trained'] is None
  on, off = out['True']['init'], out['False']['init']
  assert len(on['cos']) == config.seeds and all(-1 <= c <= 1 for c in on['cos'] + off['cos'])
  assert all(r > 0 for r in on['rel'] + off['rel'])  # the earlier steps do move the gradient
  assert all(s < 0.01 for s in on['bn_spread'])  # gamma = 1 at init: every BN unit has std 1
  assert all(s > 0.05 for s in on['dense_spread']) and off['bn_spread'] == [None] * config.seeds
