"""What the 2-D findings share: the Playground's network, the best a straight line can do, and
decision-boundary pictures.

A network whose hidden units stay identical computes a monotone function of one affine map
w.x + b, so its decision boundary is a line; `best_line_accuracy` is the exact ceiling such a
network can reach on a set of points. The pictures draw trained models restored from their
group's checkpoint (`records.group_indices` says which model), so what is drawn is what was
measured.
"""

import os

import jax.numpy as jnp
import ml_collections
import numpy as np

from engine import checkpoints, report


def playground_model(**changes) -> ml_collections.ConfigDict:
  """The TensorFlow Playground's network (nn.ts, playground.ts): 2-4-2 ReLU, one tanh output
  unit, squared error on ±1 targets, weights uniform in [-0.5, 0.5], biases 0.1."""
  model = dict(name='mlp', hidden=(4, 2), num_classes=1, activation='relu',
               kernel_init='playground_uniform', init_scale=1.0, bias_init='playground',
               output_activation='tanh', loss='squared_error', batch_norm=False, dropout=False,
               dropout_rate=0.0)  # fmt: skip
  return ml_collections.ConfigDict({**model, **changes})


def best_line_accuracy(x, y) -> float:
  """The highest accuracy of any half-plane classifier (either side positive) on points x, y.

  Exact: the order of the points' projections onto a direction changes only where the
  direction is perpendicular to the difference of two points, so one direction inside each arc
  between those critical angles, with every threshold, covers every half-plane labelling.
  """
  x = np.asarray(x, np.float64)
  y = np.asarray(y).astype(bool)
  i, j = np.triu_indices(len(x), 1)
  d = x[j] - x[i]
  critical = np.mod(np.arctan2(d[:, 1], d[:, 0]) + np.pi / 2, np.pi)
  critical = np.unique(np.concatenate([critical, [0.0, np.pi]]))
  angles = (critical[:-1] + critical[1:]) / 2
  best = max(y.mean(), 1 - y.mean())
  for chunk in np.array_split(angles, max(1, len(angles) // 2000)):
    proj = x @ np.stack([np.cos(chunk), np.sin(chunk)])  # (points, directions)
    ys = y[np.argsort(proj, axis=0)]  # labels in projection order, per direction
    pos_below = np.cumsum(ys, axis=0)
    k = np.arange(1, len(x) + 1)[:, None]
    # Threshold after the k-th point: below negative, above positive, or the reverse.
    above_pos = (k - pos_below) + (y.sum() - pos_below)
    acc = np.maximum(above_pos, len(x) - above_pos) / len(x)
    best = max(best, float(acc.max()))
  return best


def dead_units(model, params, x):
  """Per hidden unit of an MLP, whether its pre-activation is <= 0 on every input in `x`.

  For ReLU such a unit outputs 0 and passes no gradient on any of these inputs: it is dead.
  """
  _, inter = model.apply(
    {'params': params}, x, train=False, capture_intermediates=True, mutable=['intermediates']
  )
  pre = [inter['intermediates'][f'Dense_{i}']['__call__'][0] for i in range(len(model.hidden))]
  return jnp.concatenate([jnp.all(z <= 0, axis=0) for z in pre]) if pre else jnp.zeros((0,), bool)


def class_one_score(outputs):
  """(score, shade) of a model's outputs: the score is > 0 where class 1 is predicted, the shade
  in [0, 1] is what the pictures colour.

  Two logits: their difference, shaded as P(class 1). One output (the Playground's tanh unit): the
  output itself, shaded as (1 + y) / 2.
  """
  outputs = np.asarray(outputs)
  if outputs.shape[-1] == 1:
    score = outputs[..., 0]
    return score, (1 + score) / 2
  score = outputs[..., 1] - outputs[..., 0]
  return score, 1 / (1 + np.exp(-score))


def trained_variables(workdir, record, index):
  """The final linen variables of `record`'s model: number `index` within its group."""
  path = os.path.join(workdir, 'groups', record['group'], 'checkpoints')
  return checkpoints.restore_variables(path, index)


def boundary_grid(path, panels, *, title, rows, cols, extent=6.0, resolution=121):
  """Draws each panel's model over [-extent, extent]^2 (shaded by `class_one_score`) with its
  points.

  `panels[(row, col)] = (model, variables, x, y, caption)`; missing panels stay blank.
  """
  fig, axes = report.pyplot().subplots(
    len(rows), len(cols), figsize=(2.6 * len(cols), 2.6 * len(rows)), squeeze=False
  )
  lo, hi = (-extent, extent) if np.isscalar(extent) else extent
  g = np.linspace(lo, hi, resolution, dtype=np.float32)
  gx, gy = np.meshgrid(g, g)
  grid = np.stack([gx.ravel(), gy.ravel()], -1)
  for r, row in enumerate(rows):
    for c, col in enumerate(cols):
      ax = axes[r, c]
      ax.set_xticks([])
      ax.set_yticks([])
      if r == len(rows) - 1:
        ax.set_xlabel(str(col))
      if c == 0:
        ax.set_ylabel(str(row))
      if (row, col) not in panels:
        ax.axis('off')
        continue
      model, variables, x, y, caption = panels[(row, col)]
      margin, shade = class_one_score(
        np.asarray(model.apply(variables, jnp.asarray(grid), train=False))
      )
      margin, shade = margin.reshape(gx.shape), shade.reshape(gx.shape)
      ax.contourf(gx, gy, shade, levels=np.linspace(0, 1, 11), cmap='RdBu', alpha=0.6)
      if margin.min() < -1e-3 and margin.max() > 1e-3:  # a boundary, not float noise on a flat 0
        ax.contour(gx, gy, margin, levels=[0.0], colors='k', linewidths=1)
      ax.scatter(
        x[:, 0], x[:, 1], c=y, cmap='RdBu', vmin=-0.5, vmax=1.5, s=8, edgecolors='k', linewidths=0.3
      )
      ax.set_xlim(lo, hi)
      ax.set_ylim(lo, hi)
      ax.set_title(caption, fontsize=8)
  fig.suptitle(title, fontsize=10)
  fig.tight_layout()
  return report.save_figure(fig, path)
