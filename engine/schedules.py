"""Learning-rate schedules by name: optax schedules (callables of the update count).

A schedule's numbers (initial rate, decay, ...) are held per model in the optimizer state, so the
models of one vmapped program can each decay differently; every schedule is therefore plain jnp
arithmetic on possibly traced numbers, with no Python branching on them. `count` is the number of
updates applied before this one: the first update uses count 0.
"""

import jax.numpy as jnp


def time_based_decay(learning_rate, decay):
  """Keras' legacy SGD `decay`: lr(t) = lr0 / (1 + decay * t), t counting updates from 0."""

  def schedule(count):
    return learning_rate / (1.0 + decay * count)

  return schedule


def exponential_decay(learning_rate, decay_rate, decay_steps):
  """lr(t) = lr0 * decay_rate ** (t / decay_steps): smooth, by `decay_rate` every `decay_steps`."""

  def schedule(count):
    return learning_rate * decay_rate ** (count / decay_steps)

  return schedule


def step_decay(learning_rate, drop, drop_every):
  """lr(t) = lr0 * drop ** floor(t / drop_every): the staircase of Keras' step-decay examples."""

  def schedule(count):
    return learning_rate * drop ** jnp.floor(count / drop_every)

  return schedule


def cosine_decay(learning_rate, decay_steps, alpha):
  """From lr0 down to alpha * lr0 along half a cosine over `decay_steps`, then flat (SGDR)."""

  def schedule(count):
    t = jnp.minimum(count, decay_steps) / decay_steps
    return learning_rate * ((1.0 - alpha) * 0.5 * (1.0 + jnp.cos(jnp.pi * t)) + alpha)

  return schedule


def inv_decay(learning_rate, gamma, power):
  """Caffe's "inv" policy: lr(t) = lr0 * (1 + gamma * t) ** -power (LeNet's: 1e-4, 0.75)."""

  def schedule(count):
    return learning_rate * (1.0 + gamma * count) ** (-power)

  return schedule


# name -> (schedule factory, the optimizer config keys it reads besides `learning_rate`)
SCHEDULES = {
  'time_based_decay': (time_based_decay, ('decay',)),
  'exponential_decay': (exponential_decay, ('decay_rate', 'decay_steps')),
  'step_decay': (step_decay, ('drop', 'drop_every')),
  'cosine_decay': (cosine_decay, ('decay_steps', 'alpha')),
  'inv': (inv_decay, ('gamma', 'power')),
}
NAMES = ('constant',) + tuple(SCHEDULES)


def get(name: str):
  """Returns (factory, argument names) of schedule `name`; ValueError for an unknown name."""
  if name not in SCHEDULES:
    raise ValueError(f'Unknown learning-rate schedule {name!r}; known: {", ".join(NAMES)}.')
  return SCHEDULES[name]
