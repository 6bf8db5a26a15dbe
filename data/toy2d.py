"""The four 2-D problems of the TensorFlow Playground, generated from a seed; logic gates.

Circle, xor (quadrants), two gaussians and spiral follow playground.tensorflow.org's own
generators (dataset.ts): points in [-6, 6]^2, half of each class, `noise` in [0, 0.5] as its
slider's 0-50%. Label 1 is the playground's positive (blue) class: the inner disc, the quadrants
where x*y >= 0, the gaussian at (2, 2), the spiral starting at angle 0. Toy problems need no
files, so the same seed gives the same points on every machine.

The gates ('xor_gate', 'or_gate') are the four inputs {0, 1}^2 with the gate's truth table as
labels; they ask whether a network can fit four points, so every split holds all four.
"""

import numpy as np

PLAYGROUND = ('circle', 'xor', 'gaussians', 'spiral')
GATES = {'xor_gate': np.logical_xor, 'or_gate': np.logical_or}
NAMES = PLAYGROUND + tuple(GATES)
RADIUS = 5.0
XOR_PADDING = 0.3
MAX_NOISE = 0.5


def _circle(rng, n, noise):
  """Inner disc (r < 2.5) is class 1, the ring 3.5 < r < 5 class 0; noise may flip labels."""

  def ring(count, lo, hi):
    r = rng.uniform(lo, hi, count)
    angle = rng.uniform(0, 2 * np.pi, count)
    x = np.stack([r * np.sin(angle), r * np.cos(angle)], -1)
    jitter = rng.uniform(-RADIUS, RADIUS, (count, 2)) * noise
    label = (np.linalg.norm(x + jitter, axis=-1) < RADIUS * 0.5).astype(np.int32)
    return x, label

  inner, outer = ring(n // 2, 0, RADIUS * 0.5), ring(n - n // 2, RADIUS * 0.7, RADIUS)
  return np.concatenate([inner[0], outer[0]]), np.concatenate([inner[1], outer[1]])


def _xor(rng, n, noise):
  x = rng.uniform(-5, 5, (n, 2))
  x += np.where(x > 0, XOR_PADDING, -XOR_PADDING)
  jitter = rng.uniform(-5, 5, (n, 2)) * noise
  noisy = x + jitter
  return x, (noisy[:, 0] * noisy[:, 1] >= 0).astype(np.int32)


def _gaussians(rng, n, noise):
  """Variance grows with noise from 0.5 to 4, as the playground's slider does."""
  variance = 0.5 + noise / MAX_NOISE * 3.5
  half = n // 2
  pos = rng.normal((2, 2), variance, (half, 2))
  neg = rng.normal((-2, -2), variance, (n - half, 2))
  return np.concatenate([pos, neg]), np.concatenate(
    [np.ones(half, np.int32), np.zeros(n - half, np.int32)]
  )


def _spiral(rng, n, noise):
  def arm(count, delta):
    i = np.arange(count)
    r = i / count * RADIUS
    t = 1.75 * i / count * 2 * np.pi + delta
    x = np.stack([r * np.sin(t), r * np.cos(t)], -1)
    return x + rng.uniform(-1, 1, (count, 2)) * noise

  half = n // 2
  return np.concatenate([arm(half, 0.0), arm(n - half, np.pi)]), np.concatenate(
    [np.ones(half, np.int32), np.zeros(n - half, np.int32)]
  )


_GENERATORS = {'circle': _circle, 'xor': _xor, 'gaussians': _gaussians, 'spiral': _spiral}


def generate(name: str, num_samples: int, noise: float, seed) -> tuple[np.ndarray, np.ndarray]:
  """`num_samples` points (float32, shape (N, 2)) in a seeded random order, and 0/1 labels."""
  if name not in _GENERATORS:
    raise ValueError(f'Unknown 2-D problem {name!r}; known: {", ".join(PLAYGROUND)}.')
  rng = np.random.default_rng(seed)
  x, y = _GENERATORS[name](rng, num_samples, noise)
  order = rng.permutation(num_samples)
  return x[order].astype(np.float32), y[order].astype(np.int32)


def gate(name: str) -> tuple[np.ndarray, np.ndarray]:
  """The inputs (0,0), (0,1), (1,0), (1,1) as float32 and the gate's 0/1 outputs."""
  x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
  return x, GATES[name](x[:, 0] > 0, x[:, 1] > 0).astype(np.int32)


def splits(
  name: str,
  *,
  num_samples: int,
  noise: float,
  train_fraction: float,
  validation_size: int,
  seed: int,
):
  """Train and test split one sample as the playground does; validation is a fresh sample.

  Returns (train_x, train_y, val_x, val_y, test_x, test_y).
  """
  x, y = generate(name, num_samples, noise, [seed, 0])
  k = round(num_samples * train_fraction)
  val_x, val_y = generate(name, validation_size, noise, [seed, 1])
  return x[:k], y[:k], val_x, val_y, x[k:], y[k:]
