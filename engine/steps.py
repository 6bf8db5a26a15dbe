"""Pure train and eval steps for one model; the loop vmaps them over a group.

The loss is the model's `loss` field where it has one (nets/mlp.py), else softmax
cross-entropy on its logits: 'squared_error' is the TensorFlow Playground's, 0.5 (y - t)^2 of a
single output y against t = -1 for class 0 and +1 for class 1, the class read from the sign of y.
"""

import jax
import jax.numpy as jnp
import optax

from engine.state import TrainState

SOFTMAX_CROSS_ENTROPY, SQUARED_ERROR = 'softmax_cross_entropy', 'squared_error'
LOSSES = (SOFTMAX_CROSS_ENTROPY, SQUARED_ERROR)


def _variables(state: TrainState, params=None):
  variables = {'params': state.params if params is None else params}
  if state.batch_stats:
    variables['batch_stats'] = state.batch_stats
  return variables


def loss_name(model) -> str:
  name = getattr(model, 'loss', SOFTMAX_CROSS_ENTROPY)
  if name not in LOSSES:
    raise ValueError(f'Unknown loss {name!r}; known: {", ".join(LOSSES)}.')
  return name


def losses(model, outputs, labels):
  """Per-example losses of the model's outputs against integer labels."""
  if loss_name(model) == SQUARED_ERROR:
    return 0.5 * jnp.square(outputs[..., 0] - (2.0 * labels - 1.0))
  return optax.softmax_cross_entropy_with_integer_labels(outputs, labels)


def predictions(model, outputs):
  """The predicted class of each example: argmax of the logits, or 1 where y > 0 (squared error)."""
  if loss_name(model) == SQUARED_ERROR:
    return (outputs[..., 0] > 0).astype(jnp.int32)
  return jnp.argmax(outputs, -1)


def make_train_step(model, tx, dropout: bool = True):
  """Returns `train_step(state, batch, rng) -> (state, metrics)` with sums over the batch.

  With `dropout` False the model gets a constant rate 0, so no dropout masks are drawn: the
  same values, without drawing a random mask per step (threefry is slow on CPU).
  """

  def train_step(state: TrainState, batch, rng):
    images, labels = batch

    def loss_fn(params):
      mutable = ['batch_stats'] if state.batch_stats else False
      out = model.apply(
        _variables(state, params),
        images,
        train=True,
        dropout_rate=state.dropout_rate if dropout else 0.0,
        rngs={'dropout': rng},
        mutable=mutable,
      )
      logits, updates = out if mutable else (out, {})
      return losses(model, logits, labels).mean(), (logits, updates)

    (loss, (logits, updates)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    param_updates, opt_state = tx.update(grads, state.opt_state, state.params)
    new_state = state.replace(
      step=state.step + 1,
      params=optax.apply_updates(state.params, param_updates),
      batch_stats=updates.get('batch_stats', state.batch_stats),
      opt_state=opt_state,
    )
    metrics = {
      'loss_sum': loss * labels.shape[0],
      'correct': jnp.sum(predictions(model, logits) == labels).astype(jnp.float32),
      'count': jnp.asarray(labels.shape[0], jnp.float32),
    }
    return new_state, metrics

  return train_step


def make_eval_step(model):
  """Returns `eval_step(state, batch) -> metrics`: sums of loss and correct over unmasked rows."""

  def eval_step(state: TrainState, batch):
    images, labels, mask = batch
    logits = model.apply(_variables(state), images, train=False)
    per_example = losses(model, logits, labels)
    correct = predictions(model, logits) == labels
    return {
      'loss_sum': jnp.sum(jnp.where(mask, per_example, 0.0)),
      'correct': jnp.sum(jnp.where(mask, correct, False)).astype(jnp.float32),
      'count': jnp.sum(mask).astype(jnp.float32),
    }

  return eval_step
