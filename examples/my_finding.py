"""A wider hidden layer reaches higher MNIST test accuracy after one epoch.

Source: the course claim that more hidden units give a network more capacity to fit the task
(Goodfellow, Bengio and Courville, Deep Learning, 2016, section 6.4.1), tested here after one
short epoch, where a narrow layer is also the slower learner.

Setup: a one-hidden-layer ReLU MLP (784-W-10, Glorot init, no dropout), Adam 1e-3, batch 32,
one epoch, W swept over 8, 32 and 128 units. Claims: the mean test accuracy rises with W (rank
correlation), and the widest beats the narrowest by a set margin and by more than the seed spread.
"""

# A template: copy it, then `python launch.py --config=my_finding.py:quick` (README, "Write your
# own finding").
import os

import ml_collections

from engine import base_config, report
from engine import records as rs
from engine import verdict as v

NAME = 'my_finding'
VARIANTS = ('quick',)
WIDTH = 'model.hidden'


def get_config(variant=None):
  c = base_config.get_config()
  c.model = ml_collections.ConfigDict(dict(name='mlp', hidden=(32,), num_classes=10))
  c.model.update(dict(activation='relu', kernel_init='glorot_uniform', init_scale=1.0))
  c.model.update(dict(batch_norm=False, dropout=False, dropout_rate=0.0))
  c.optimizer = ml_collections.ConfigDict(dict(name='adam', learning_rate=1e-3))
  c.train.update(dict(epochs=1, batch_size=32))
  c.sweep.model = ml_collections.ConfigDict(dict(hidden=((8,), (32,), (128,))))
  # Declared before any run: 3 widths can only reach Spearman 1.0 or 0.5; a 1-point gain is ~10x
  # the standard error of a 10,000-image test accuracy near 0.9 (sqrt(0.9 * 0.1 / 1e4) = 0.003).
  c.verdict = ml_collections.ConfigDict(dict(min_seeds=3, min_spearman=0.9, min_gain=0.01))
  if variant == 'quick':
    c.dataset.update(dict(validation_size=500, train_subset=1500, test_subset=1000))
    c.train.update(dict(eval_train_size=1000, eval_batch_size=500))
    c.seeds = 1
  return c


def verdict(results):
  cfg = results['config']['verdict']
  test = {k[0]: a for k, a in rs.by_point(results['records'], WIDTH, 'test_accuracy').items()}
  widths = sorted(test)
  means = [test[w].mean() for w in widths]
  rho = v.spearman(widths, means) if len(widths) >= 3 else None
  gain = float(means[-1] - means[0]) if len(widths) >= 2 else None
  spread = max(rs.spread(test[w]) for w in widths) if widths else 0.0
  source, says = 'DL 6.4.1', 'more hidden units, more capacity'
  claims = [
    v.test(source, 'test accuracy rises with the width', document=says,
           measured='n/a (fewer than 3 widths)' if rho is None else f'Spearman {rho:.3f}',
           threshold=f'Spearman(width, mean test acc) >= {cfg["min_spearman"]}',
           passed=None if rho is None else rho >= cfg['min_spearman'], value=rho),
    v.test(source, 'the widest layer beats the narrowest', document=says,
           measured='n/a' if gain is None else f'gain {gain:.4f}, spread {spread:.4f}',
           threshold=f'gain >= {cfg["min_gain"]} and gain > seed spread',
           passed=None if gain is None else bool(gain >= cfg['min_gain'] and gain > spread),
           value=gain),
  ]  # fmt: skip
  table = [{'width': w, 'test acc (mean ± std)': rs.stats(test[w]).format(4)} for w in widths]
  diverged = sum(r['diverged'] for r in results['records'])
  return v.of_run(results, claims, table, min_seeds=cfg['min_seeds'], diverged=diverged)


def plot(results, workdir):
  test = {k[0]: a for k, a in rs.by_point(results['records'], WIDTH, 'test_accuracy').items()}
  title = f'{results["dataset"]["name"]}, 1 epoch, {results["seeds"]} seed(s)'
  path = os.path.join(workdir, 'accuracy_vs_width.png')
  kw = dict(xlabel='hidden units', ylabel='test accuracy', title=title)
  return [report.sweep_plot(path, sorted(test), {'test': test}, **kw)]
