"""The config every training finding starts from: the engine's own keys, with their defaults.

A finding's `get_config` extends it with what is its own (model, optimizer, sweep, verdict
thresholds) and changes only the defaults that differ, so the infrastructure keys are written
once. `--show_config` prints the merged result; every key can be overridden from the command line.
"""

import ml_collections

from engine import parallel


def get_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.dataset = ml_collections.ConfigDict(
    dict(
      name='mnist',
      data_dir='',  # '' : $JAX_FINDINGS_DATA, then TFDS's data dir (data/sources.py)
      validation_size=5000,  # taken from the training images, by split_seed
      train_subset=0,  # 0: every training image
      test_subset=0,
      split_seed=0,
      download=True,  # checksum-verified download when no local copy is found
      allow_standin=True,  # an embedded stand-in when the data is missing (INCONCLUSIVE)
    )
  )
  c.train = ml_collections.ConfigDict(
    dict(
      epochs=1,
      batch_size=128,
      eval_batch_size=1000,
      eval_train_size=10000,  # training images evaluated each epoch; 0: all
      steps_per_epoch=0,  # 0: whole passes; k > 0: epochs of k steps (evaluated and recorded)
      passes_per_epoch=1,
      order='shuffled',  # or 'sorted_by_label'
      probe_every_steps=0,  # also run the finding's probe every k steps (0: at epoch ends)
      steps_per_call=-1,  # steps per compiled call; -1: the backend's best (engine/plan.py)
    )
  )
  c.early_stopping = ml_collections.ConfigDict(
    dict(
      rule='none',  # 'gl' (Prechelt's generalization loss) or 'patience'; engine/early_stopping.py
      metric='val_loss',
      threshold=5.0,
      patience=10,
      keep_best=True,
      stop_group=False,
    )
  )
  c.sweep = ml_collections.ConfigDict()  # mirrors the config: sweep.model.dropout_rate = (0.0, 0.5)
  c.seeds = 3
  c.seed = 0
  c.sweep_max_models = -1  # models per program; -1: the backend's best, 0: the whole group
  c.parallel = parallel.default_config()  # devices: engine/parallel.py
  c.checkpoint_every_secs = 60.0
  return c


def transfer_config() -> ml_collections.ConfigDict:
  """`config.transfer`: weights from elsewhere and frozen parameters, for a finding that adds it.

  `c.transfer = base_config.transfer_config()` in a finding's `get_config` (not in every
  finding's config, so other runs' identities and work dirs do not change). Patterns are globs
  over module paths of the params tree: 'Conv_0', 'Conv_*', 'Dense_1/kernel'.
  """
  return ml_collections.ConfigDict(
    dict(
      checkpoint_dir='',  # a work dir of another run to start the parameters from ('': none)
      point='base',  # that run's point label ('dropout_rate=0.5'; 'base' without a sweep)
      seed=-1,  # that run's seed; -1: each model from the source model of its own seed
      keras_weights='',  # a Keras VGG16/VGG19 HDF5 weights file (model.name='vgg', D or E)
      keep_init=(),  # patterns of parameters not loaded, keeping their fresh init (a new head)
      freeze=(),  # patterns of parameters that do not train (zero updates, no optimizer state)
    )
  )
