"""Pure train and eval steps for one model; the loop vmaps them over a group."""

import jax
import jax.numpy as jnp
import optax

from engine.state import TrainState


def _variables(state: TrainState, params=None):
  variables = {'params': state.params if params is None else params}
  if state.batch_stats:
    variables['batch_stats'] = state.batch_stats
  return variables


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
      losses = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
      return losses.mean(), (logits, updates)

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
      'correct': jnp.sum(jnp.argmax(logits, -1) == labels).astype(jnp.float32),
      'count': jnp.asarray(labels.shape[0], jnp.float32),
    }
    return new_state, metrics

  return train_step


def make_eval_step(model):
  """Returns `eval_step(state, batch) -> metrics`: sums of loss and correct over unmasked rows."""

  def eval_step(state: TrainState, batch):
    images, labels, mask = batch
    logits = model.apply(_variables(state), images, train=False)
    losses = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
    correct = jnp.argmax(logits, -1) == labels
    return {
      'loss_sum': jnp.sum(jnp.where(mask, losses, 0.0)),
      'correct': jnp.sum(jnp.where(mask, correct, False)).astype(jnp.float32),
      'count': jnp.sum(mask).astype(jnp.float32),
    }

  return eval_step
