"""Bias² falls, variance rises, test error is U-shaped; no "constant rates", no "parallel" floor.

Seed: the deep-learning exam's problem 1 (`003 P1`): sketch squared bias, variance, training
error, test error and irreducible error against model complexity, and explain each shape. The
answer says: the training MSE "declines at a constant rate without oscillations"; the test MSE
first declines, then rises as the model overfits; the squared bias "decreases at a constant rate
without oscillations" and the variance "increases at a constant rate without oscillations"; the
irreducible error "is a constant parallel to the test MSE curve because the expected test MSE
will always be greater than Var(ε)". Each statement is a row.

Setup: f(x) = sin(2πx) on [0, 1] (Bishop's curve-fitting example), training sets of 20 evenly
spaced x with y = f(x) + N(0, 0.3²) noise, a fresh noise draw per training set (a fixed design:
only the noise is random, so the polynomial axis also has an exact closed form to check the
Monte-Carlo against). Each training set comes with its own fresh test draw y₀ = f(x₀) + ε on 101
evenly spaced x₀. Two complexity axes:

- polynomial degree 0-15 (Legendre basis on 2x - 1, the same fits as monomials but well
  conditioned), least squares in float64, every (degree, training set) one vmapped `lstsq`
  program; the lower degrees are the top design with its higher columns masked;
- training time of a 1-64-1 tanh MLP (output layer initialized to zero, so every net starts at
  f̂ = 0 and the time axis starts at zero variance), full-batch Adam, one net per training set
  each from its own init seed, all vmapped in one program and read at log-spaced steps.

Measured at every complexity, from the predictions f̂_r(x₀) of the R training sets: squared bias
mean_x₀ (f - mean_r f̂_r)² minus its Monte-Carlo bias variance/R, variance mean_x₀ var_r f̂_r
(ddof=1; with the correction the two sum exactly to mean (f - f̂)²), irreducible error mean ε²
of the test draws, training MSE and test MSE mean (y₀ - f̂)². Their spread comes from the draws
themselves: a bootstrap over the training sets (resampled as a whole, so every difference
between complexities is paired) and, for the decomposition, the standard error of
(y₀ - f̂)² - (f - f̂)² - σ² over all (training set, test point) draws, which has mean zero.

Tests (thresholds in `config.verdict`, declared before the run): a test at family level α is
a z-test with Bonferroni's z = Φ⁻¹(1 - α / 2m) over its m comparisons. A trend ("falls",
"rises") needs a Spearman rank correlation with complexity significant at α (one-sided) and a
net change beyond z standard errors; "without oscillations" means no step between neighbouring
complexities goes against the trend by more than z standard errors; "at a constant rate" means
the share of the total change made over the first half of the axis is within the band a rate
ratio of `max_rate_ratio` between the halves allows (its bootstrap interval inside the band:
HOLDS; outside: DOCUMENT WRONG; straddling: INCONCLUSIVE). Rates are per step of the axis as
plotted: one degree, or one log-spaced checkpoint of training. "Parallel" means test MSE minus
irreducible error (= bias² + variance) is the same at every complexity within its noise.

The outcome rests on the primary rows: the decomposition and closed-form checks, the U-shape,
the three trends and a constant irreducible error, on both axes. The answer's rates,
"without oscillations", "parallel" and "always greater" are reported beside them.
"""

import functools
import os
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from engine import report
from engine import verdict as v
from engine.errors import UserError

NAME = 'bias_variance'
VARIANTS = ('quick',)
AXES = ('poly', 'mlp')
CURVES = ('bias2', 'variance', 'noise', 'train', 'test')
LABELS = {
  'bias2': 'squared bias',
  'variance': 'variance',
  'noise': 'irreducible error',
  'train': 'training MSE',
  'test': 'test MSE',
}


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  # f(x) = amplitude * sin(2 pi frequency x); n_train evenly spaced x, n_test evenly spaced x0.
  c.data = ml_collections.ConfigDict(
    dict(
      amplitude=1.0,
      frequency=1.0,
      x_low=0.0,
      x_high=1.0,
      n_train=20,
      n_test=101,
      noise_sd=0.3,
      datasets=500,
      seed=0,
    )
  )
  # Up to degree 15 of 20 points: far into overfitting, short of interpolation (degree 19).
  c.poly = ml_collections.ConfigDict(dict(degrees=tuple(range(16))))
  c.mlp = ml_collections.ConfigDict(
    dict(
      datasets=200,  # the first 200 of the training sets
      width=64,
      activation='tanh',
      learning_rate=0.01,
      steps=(0, 10, 30, 100, 300, 1000, 3000, 10000, 30000),
      seed=1,
    )
  )
  c.bootstrap = ml_collections.ConfigDict(dict(resamples=200, seed=2))
  # Declared before the run. alpha: family-wise error of each test (Bonferroni over its
  # comparisons); the noise it is measured against is the draws' own (bootstrap over training
  # sets, or the per-draw standard error). max_rate_ratio: what "a constant rate" tolerates,
  # the rate over one half of the axis at most twice the other's; a smaller factor would call
  # the nearly-straight curves a careful sketch draws "not constant".
  c.verdict = ml_collections.ConfigDict(dict(alpha=0.01, max_rate_ratio=2.0))
  if variant == 'quick':
    c.data.datasets = 64
    c.poly.degrees = tuple(range(13))
    c.mlp.datasets = 16
    c.mlp.steps = (0, 10, 30, 100, 300, 1000, 3000)
    c.bootstrap.resamples = 50
  return c


def validate(config) -> None:
  c = config
  if c.mlp.datasets > c.data.datasets:
    raise UserError(
      f'mlp.datasets={c.mlp.datasets} exceeds data.datasets={c.data.datasets}: the MLP trains '
      'on the first mlp.datasets of the training sets. Lower mlp.datasets or raise data.datasets.'
    )
  if max(c.poly.degrees) >= c.data.n_train:
    raise UserError(
      f'degree {max(c.poly.degrees)} needs more than data.n_train={c.data.n_train} points to be '
      'a least-squares fit. Drop the degrees >= n_train or raise data.n_train.'
    )
  for axis, values in (('poly.degrees', c.poly.degrees), ('mlp.steps', c.mlp.steps)):
    if len(values) < 4 or list(values) != sorted(set(values)):
      raise UserError(
        f'{axis}={tuple(values)}: a complexity axis needs at least 4 distinct values in '
        'increasing order (the U-shape and trend tests compare its ends and its interior).'
      )
  if c.data.datasets < 3 or c.bootstrap.resamples < 10:
    raise UserError(
      'data.datasets must be >= 3 and bootstrap.resamples >= 10 for a variance and its error.'
    )


class Data(NamedTuple):
  x: np.ndarray  # (n,) training inputs, the same for every training set
  x_test: np.ndarray  # (T,)
  f: np.ndarray  # (n,) f at x
  f_test: np.ndarray  # (T,)
  y: np.ndarray  # (R, n) training targets, one row per training set
  eps: np.ndarray  # (R, T) the test noise drawn with each training set


def true_f(x, data_cfg):
  return data_cfg.amplitude * np.sin(2.0 * np.pi * data_cfg.frequency * np.asarray(x))


def generate(data_cfg) -> Data:
  c = data_cfg
  x = np.linspace(c.x_low, c.x_high, c.n_train)
  x_test = np.linspace(c.x_low, c.x_high, c.n_test)
  f, f_test = true_f(x, c), true_f(x_test, c)
  with jax.enable_x64(True):
    k_train, k_test = jax.random.split(jax.random.key(c.seed))
    z = np.asarray(jax.random.normal(k_train, (c.datasets, c.n_train), jnp.float64))
    z_test = np.asarray(jax.random.normal(k_test, (c.datasets, c.n_test), jnp.float64))
  return Data(x, x_test, f, f_test, f + c.noise_sd * z, c.noise_sd * z_test)


def scaled(x, data_cfg):
  """x mapped to [-1, 1], where Legendre polynomials are orthogonal."""
  return 2.0 * (np.asarray(x) - data_cfg.x_low) / (data_cfg.x_high - data_cfg.x_low) - 1.0


def legendre_design(t, max_degree: int):
  """Columns P_0(t) ... P_max_degree(t) by Bonnet's recurrence."""
  cols = [jnp.ones_like(t), t]
  for k in range(1, max_degree):
    cols.append(((2 * k + 1) * t * cols[k] - k * cols[k - 1]) / (k + 1))
  return jnp.stack(cols[: max_degree + 1], axis=-1)


@jax.jit
def poly_fits(X, X_test, Y, column_masks):
  """Predictions at the training and test inputs of every (degree, training set):
  (degrees, R, n) and (degrees, R, T). Degrees and training sets are vmapped."""

  def one(columns, y):
    beta = jnp.linalg.lstsq(X * columns, y)[0]
    return (X * columns) @ beta, (X_test * columns) @ beta

  per_set = jax.vmap(one, in_axes=(None, 0))
  return jax.vmap(per_set, in_axes=(0, None))(column_masks, Y)


def poly_predictions(config, data: Data):
  degrees = list(config.poly.degrees)
  top = max(degrees)
  masks = np.asarray([[1.0 if j <= d else 0.0 for j in range(top + 1)] for d in degrees])
  with jax.enable_x64(True):
    X = legendre_design(jnp.asarray(scaled(data.x, config.data)), top)
    X_test = legendre_design(jnp.asarray(scaled(data.x_test, config.data)), top)
    train, test = poly_fits(X, X_test, jnp.asarray(data.y), jnp.asarray(masks))
    return np.asarray(train), np.asarray(test)


def exact_poly(config, data: Data) -> dict:
  """Expectations over the noise for the fixed design, in closed form (numpy, no Monte-Carlo):
  the fit is A y with A = X_test pinv(X), so bias = A f - f_test, variance = σ² |row of A|², and
  the training MSE is |(I - H) f|²/n + σ² (n - tr H)/n with H = X pinv(X)."""
  s2 = config.data.noise_sd**2
  t, t_test = scaled(data.x, config.data), scaled(data.x_test, config.data)
  n = len(t)
  out = {name: [] for name in ('bias2', 'variance', 'train', 'test')}
  for d in config.poly.degrees:
    X = np.polynomial.legendre.legvander(t, d)
    pinv = np.linalg.pinv(X)
    A, H = np.polynomial.legendre.legvander(t_test, d) @ pinv, X @ pinv
    bias2 = float(np.mean((A @ data.f - data.f_test) ** 2))
    var = float(s2 * np.mean(np.sum(A**2, axis=1)))
    out['bias2'].append(bias2)
    out['variance'].append(var)
    out['test'].append(bias2 + var + s2)
    out['train'].append(float(np.mean((data.f - H @ data.f) ** 2) + s2 * (n - np.trace(H)) / n))
  return out


class Regressor(nn.Module):
  """One hidden layer; the output layer starts at zero, so f̂ = 0 for every net at step 0."""

  width: int
  activation: str

  @nn.compact
  def __call__(self, t):
    h = getattr(nn, self.activation)(nn.Dense(self.width)(t[:, None]))
    return nn.Dense(1, kernel_init=nn.initializers.zeros)(h)[:, 0]


class MLPPrograms(NamedTuple):
  init: object  # (keys, t) -> (params, opt_state), one per key
  advance: object  # (params, opt_state, Y, t, steps) -> both after `steps` full-batch steps
  predict: object  # (params, t) -> (R, len(t)) predictions


@functools.cache
def mlp_programs(width: int, activation: str, learning_rate: float) -> MLPPrograms:
  """The jitted programs of one MLP setup, built once per process and vmapped over training
  sets (each with its own init key)."""
  if not hasattr(nn, activation):
    raise UserError(f'mlp.activation={activation!r} is not a flax.linen activation.')
  net = Regressor(width, activation)
  tx = optax.adam(learning_rate)

  @jax.jit
  def init(keys, t):
    params = jax.vmap(lambda k: net.init(k, t))(keys)
    return params, jax.vmap(tx.init)(params)

  @jax.jit
  def advance(params, opt, Y, t, steps):
    def one(p, o, y):
      loss = lambda p: jnp.mean((net.apply(p, t) - y) ** 2)

      def body(_, carry):
        p, o = carry
        updates, o = tx.update(jax.grad(loss)(p), o, p)
        return optax.apply_updates(p, updates), o

      return jax.lax.fori_loop(0, steps, body, (p, o))

    return jax.vmap(one)(params, opt, Y)

  @jax.jit
  def predict(params, t):
    return jax.vmap(lambda p: net.apply(p, t))(params)

  return MLPPrograms(init, advance, predict)


def mlp_predictions(config, data: Data):
  """Train one net per training set (its own init seed), full-batch Adam, all vmapped; the
  predictions at every step of `mlp.steps`: (steps, R, n) and (steps, R, T)."""
  c = config.mlp
  prog = mlp_programs(c.width, c.activation, c.learning_rate)
  t = jnp.asarray(scaled(data.x, config.data), jnp.float32)
  t_test = jnp.asarray(scaled(data.x_test, config.data), jnp.float32)
  Y = jnp.asarray(data.y[: c.datasets], jnp.float32)
  params, opt = prog.init(jax.random.split(jax.random.key(c.seed), c.datasets), t)
  train, test, done = [], [], 0
  for step in c.steps:
    params, opt = prog.advance(params, opt, Y, t, step - done)
    done = step
    train.append(np.asarray(prog.predict(params, t), np.float64))
    test.append(np.asarray(prog.predict(params, t_test), np.float64))
  return np.stack(train), np.stack(test)


@jax.jit
def _curves(counts, P, P2, per_set, noise_per_set, f_test):
  """The five curves for each row of `counts` (how often each training set is drawn; all ones
  is the sample itself), from per-training-set moments, so a bootstrap is a matrix product."""
  R = counts.shape[1]
  w = counts / R
  T = f_test.shape[0]
  C = P.shape[1] // T
  m1 = (w @ P).reshape(-1, C, T)
  m2 = (w @ P2).reshape(-1, C, T)
  variance = jnp.mean(m2 - m1**2, axis=-1) * R / (R - 1)
  bias2 = jnp.mean((f_test - m1) ** 2, axis=-1) - variance / R
  train, test = jnp.einsum('br,rkc->kbc', w, per_set)
  noise = jnp.broadcast_to((w @ noise_per_set)[:, None], bias2.shape)
  return dict(bias2=bias2, variance=variance, noise=noise, train=train, test=test)


def summarize(train_pred, test_pred, data: Data, R: int, noise_sd: float, boot_cfg) -> dict:
  """Curves, their bootstrap over training sets and the decomposition's Monte-Carlo error."""
  y, eps = data.y[:R], data.eps[:R]
  C, T = test_pred.shape[0], test_pred.shape[2]
  per_set = np.stack(
    [
      np.mean((train_pred - y) ** 2, axis=-1).T,
      np.mean((data.f_test + eps - test_pred) ** 2, axis=-1).T,
    ],
    axis=1,
  )  # (R, 2, C)
  P = np.transpose(test_pred, (1, 0, 2)).reshape(R, C * T)
  d = (data.f_test + eps - test_pred) ** 2 - (data.f_test - test_pred) ** 2 - noise_sd**2
  with jax.enable_x64(True):
    idx = jax.random.randint(
      jax.random.key(boot_cfg.seed), (boot_cfg.resamples, R), 0, R, jnp.int32
    )
    counts = jax.vmap(lambda i: jnp.bincount(i, length=R))(idx).astype(jnp.float64)
    counts = jnp.concatenate([jnp.ones((1, R)), counts])
    out = _curves(
      counts,
      jnp.asarray(P),
      jnp.asarray(P**2),
      jnp.asarray(per_set),
      jnp.asarray(np.mean(eps**2, axis=-1)),
      jnp.asarray(data.f_test),
    )
    out = {k: np.asarray(a) for k, a in out.items()}
  return {
    'datasets': R,
    'curves': {k: a[0].tolist() for k, a in out.items()},
    'boot': {k: a[1:].tolist() for k, a in out.items()},
    'decomposition': {
      'gap': d.mean(axis=(1, 2)).tolist(),
      'se': (d.reshape(C, -1).std(axis=1, ddof=1) / np.sqrt(R * T)).tolist(),
    },
    'finite': bool(np.all(np.isfinite(test_pred)) and np.all(np.isfinite(train_pred))),
  }


def measure(config, workdir):
  del workdir
  validate(config)
  c = config
  data = generate(c.data)
  s = c.data.noise_sd
  poly_train, poly_test = poly_predictions(c, data)
  poly = summarize(poly_train, poly_test, data, c.data.datasets, s, c.bootstrap)
  poly.update(values=list(c.poly.degrees), label='polynomial degree', exact=exact_poly(c, data))
  mlp_train, mlp_test = mlp_predictions(c, data)
  mlp = summarize(mlp_train, mlp_test, data, c.mlp.datasets, s, c.bootstrap)
  mlp.update(
    values=list(c.mlp.steps),
    label=f'MLP training steps (1-{c.mlp.width}-1 {c.mlp.activation}, Adam)',
  )
  return {
    'seeds': c.data.datasets,
    'records': [],
    'train_seconds': 0.0,
    'dataset': {
      'name': f'y = {c.data.amplitude:g}·sin(2π·{c.data.frequency:g}x) + N(0, {s:g}²)',
      'source': f'generated from jax.random.key({c.data.seed})',
      'standin': False,
      'describe': (
        f'{c.data.datasets} training sets of {c.data.n_train} evenly spaced x in '
        f'[{c.data.x_low:g}, {c.data.x_high:g}], y = f(x) + N(0, {s:g}²), each with a test draw '
        f'at {c.data.n_test} evenly spaced x; the MLP uses the first {c.mlp.datasets}'
      ),
    },
    'axes': {'poly': poly, 'mlp': mlp},
  }


# ---- the verdict ---------------------------------------------------------------------------


def z_of(alpha: float, m: int) -> float:
  """Two-sided Bonferroni critical value for m comparisons at family level alpha."""
  import scipy.stats  # at the verdict, not when the finding is imported (`--list`, workers)

  return float(scipy.stats.norm.ppf(1.0 - alpha / (2 * m)))


class Stat(NamedTuple):
  value: float
  se: float


def _diff(axis, curve, i, j) -> Stat:
  """curve[j] - curve[i], with its standard error from the paired bootstrap."""
  c, b = np.asarray(axis['curves'][curve]), np.asarray(axis['boot'][curve])
  return Stat(float(c[j] - c[i]), float(np.std(b[:, j] - b[:, i], ddof=1)))


def first_half_share(curve):
  """Share of the total change made over the first half of the axis (index 0 to mid)."""
  c = np.asarray(curve, np.float64)
  mid = (c.shape[-1] - 1) // 2
  return (c[..., mid] - c[..., 0]) / (c[..., -1] - c[..., 0])


def rate_band(C: int, ratio: float) -> tuple:
  """The first-half shares whose per-step rate is within `ratio` of the second half's."""
  a, b = (C - 1) // 2, (C - 1) - (C - 1) // 2
  return a / (a + ratio * b), ratio * a / (ratio * a + b)


def _p(p):
  return '< 1e-12' if p < 1e-12 else f'= {p:.1e}'


def _fmt(x):
  return f'{x:.4g}'


def _at(axis, i):
  return f'{axis["values"][i]}'


class Trend(NamedTuple):
  passed: bool
  measured: str
  threshold: str
  value: float


def trend(axis, curve, sign, alpha) -> Trend:
  """Falls (sign -1) or rises (+1): Spearman significant at alpha and a net change beyond z SE."""
  c = np.asarray(axis['curves'][curve])
  x = np.arange(len(c))
  rho = v.spearman(x, c)
  alt = 'greater' if sign > 0 else 'less'
  import scipy.stats

  p = float(scipy.stats.spearmanr(x, c, alternative=alt).pvalue)
  net = _diff(axis, curve, 0, len(c) - 1)
  z = z_of(alpha, 1)
  passed = p < alpha and sign * net.value > z * net.se
  return Trend(
    passed,
    f'Spearman ρ = {rho:+.3f} (one-sided p {_p(p)}); {_at(axis, 0)} → {_at(axis, -1)}: '
    f'{_fmt(c[0])} → {_fmt(c[-1])} (change {net.value:+.4g} ± {net.se:.2g})',
    f'one-sided Spearman p < {alpha:g} and |net change| > {z:.2f} SE in that direction',
    rho,
  )


def oscillations(axis, curve, sign, alpha) -> Trend:
  """Steps between neighbours that go against the trend by more than z SE (Bonferroni)."""
  C = len(axis['curves'][curve])
  z = z_of(alpha, C - 1)
  against = []
  worst = (0.0, 0)
  for i in range(C - 1):
    step = _diff(axis, curve, i, i + 1)
    score = -sign * step.value / step.se if step.se > 0 else -sign * np.sign(step.value) * np.inf
    if score > worst[0]:
      worst = (score, i)
    if score > z:
      against.append(f'{_at(axis, i)}→{_at(axis, i + 1)}: {step.value:+.3g} ± {step.se:.1g}')
  word = 'rises' if sign < 0 else 'falls'
  if against:
    measured = f'{len(against)} step(s) where it {word} beyond noise: ' + '; '.join(against)
  elif worst[0] > 0:
    i = worst[1]
    measured = (
      f'none beyond noise; the largest step against the trend, {_at(axis, i)}→'
      f'{_at(axis, i + 1)}, is {worst[0]:.1f} SE'
    )
  else:
    measured = 'every step goes with the trend'
  return Trend(
    not against,
    measured,
    f'no step between neighbours against the trend by > {z:.2f} SE (Bonferroni over {C - 1})',
    len(against),
  )


def constant_rate(axis, curve, ratio, alpha):
  """(passed or None, measured, threshold, correct, share): the first-half share of the change
  against the band a rate ratio of `ratio` allows; its bootstrap interval decides."""
  c = np.asarray(axis['curves'][curve])
  C = len(c)
  share = float(first_half_share(c))
  boot = first_half_share(np.asarray(axis['boot'][curve]))
  boot = boot[np.isfinite(boot)]
  lo, hi = (float(q) for q in np.quantile(boot, [alpha / 2, 1 - alpha / 2]))
  band = rate_band(C, ratio)
  mid = (C - 1) // 2
  passed = (
    True if band[0] <= lo and hi <= band[1] else False if hi < band[0] or lo > band[1] else None
  )
  a, b = mid, (C - 1) - mid
  rate_ratio = (share / a) / ((1 - share) / b) if 0 < share < 1 else float('inf')
  measured = (
    f'{share:.2f} of the change {_at(axis, 0)}→{_at(axis, -1)} is made by {_at(axis, mid)} '
    f'({1 - alpha:.0%} interval {lo:.2f}-{hi:.2f}); a constant rate gives {a / (C - 1):.2f}'
  )
  if np.isfinite(rate_ratio) and rate_ratio > 0:
    measured += f"; first-half rate {rate_ratio:.3g}x the second half's"
  return (
    passed,
    measured,
    f'{1 - alpha:.0%} bootstrap interval of that share inside [{band[0]:.2f}, {band[1]:.2f}] '
    f'(rates of the halves within x{ratio:g}); outside: wrong',
    f'not constant: {share:.0%} of the change over the first half of the axis',
    share,
  )


def u_shape(axis, alpha) -> Trend:
  c = np.asarray(axis['curves']['test'])
  k = int(np.argmin(c))
  z = z_of(alpha, 2)
  if k in (0, len(c) - 1):
    return Trend(
      False,
      f'smallest at the end of the axis ({_at(axis, k)}): {_fmt(c[k])}',
      f'argmin strictly inside; both ends above it by > {z:.2f} SE',
      k,
    )
  left, right = _diff(axis, 'test', k, 0), _diff(axis, 'test', k, len(c) - 1)
  passed = left.value > z * left.se and right.value > z * right.se
  return Trend(
    passed,
    f'smallest at {_at(axis, k)}: {_fmt(c[k])}; {_at(axis, 0)}: {_fmt(c[0])} '
    f'(+{left.value:.3g} ± {left.se:.2g}), {_at(axis, -1)}: {_fmt(c[-1])} '
    f'(+{right.value:.3g} ± {right.se:.2g})',
    f'argmin strictly inside; both ends above it by > {z:.2f} SE (paired bootstrap)',
    k,
  )


def decomposition(axis, noise_sd, alpha) -> Trend:
  gap, se = np.asarray(axis['decomposition']['gap']), np.asarray(axis['decomposition']['se'])
  z = z_of(alpha, len(gap))
  scores = np.abs(gap) / se
  k = int(np.argmax(scores))
  return Trend(
    bool(np.all(scores <= z)),
    f'test - (bias² + variance + {noise_sd:g}²) at most {scores[k]:.2f} SE ({gap[k]:+.2g} ± '
    f'{se[k]:.1g} at {_at(axis, k)})',
    f'|gap| <= {z:.2f} SE at every point (Bonferroni over {len(gap)}); SE over the '
    'training-set x test-point draws',
    float(scores[k]),
  )


def exact_match(axis, alpha) -> Trend:
  names = list(axis['exact'])
  C = len(axis['values'])
  z = z_of(alpha, len(names) * C)
  worst, where = 0.0, ''
  for name in names:
    mc, ex = np.asarray(axis['curves'][name]), np.asarray(axis['exact'][name])
    se = np.std(np.asarray(axis['boot'][name]), axis=0, ddof=1)
    scores = np.abs(mc - ex) / se
    i = int(np.argmax(scores))
    if scores[i] > worst:
      worst, where = float(scores[i]), f'{LABELS[name]} at {_at(axis, i)}'
  return Trend(
    worst <= z,
    f'largest gap {worst:.2f} SE ({where})',
    f'every curve within {z:.2f} bootstrap SE of the closed form (Bonferroni over '
    f'{len(names) * C})',
    worst,
  )


class Spread(NamedTuple):
  lo: int  # index of the smallest value
  hi: int  # index of the largest
  value: float  # largest - smallest
  se: float  # its paired-bootstrap standard error


def spread(curve, boot) -> Spread:
  lo, hi = int(np.argmin(curve)), int(np.argmax(curve))
  return Spread(
    lo, hi, float(curve[hi] - curve[lo]), float(np.std(boot[:, hi] - boot[:, lo], ddof=1))
  )


def noise_rows(axis, noise_sd, alpha, tag) -> list:
  c = {k: np.asarray(a) for k, a in axis['curves'].items()}
  b = {k: np.asarray(a) for k, a in axis['boot'].items()}
  C = len(c['test'])
  noise, noise_se = float(c['noise'][0]), float(np.std(b['noise'][:, 0], ddof=1))
  implied = c['test'] - c['bias2'] - c['variance']
  sp = spread(implied, b['test'] - b['bias2'] - b['variance'])
  pairs = C * (C - 1) // 2
  zp = z_of(alpha, pairs)
  rows = [
    v.test(
      '003 P1',
      f'the irreducible error is a constant ({tag})',
      document='"The irreducible error is a constant"',
      measured=(
        f'test - bias² - variance runs from {implied[sp.lo]:.4f} ({_at(axis, sp.lo)}) to '
        f'{implied[sp.hi]:.4f} ({_at(axis, sp.hi)}): a spread of {sp.value:.2g} ± {sp.se:.1g}; '
        f'Var(ε) of the test draws {noise:.4f} ± {noise_se:.1g} (σ² = {noise_sd**2:g})'
      ),
      threshold=(
        f'spread <= {zp:.2f} SE (paired bootstrap; Bonferroni over the {pairs} pairs of points)'
      ),
      passed=sp.value <= zp * sp.se,
      value=sp.value,
    )
  ]
  excess, excess_b = c['test'] - c['noise'], b['test'] - b['noise']
  gap = spread(excess, excess_b)
  rows.append(
    v.test(
      '003 P1',
      f'the irreducible error is parallel to the test MSE curve ({tag})',
      document='"a constant parallel to the test MSE curve"',
      measured=(
        f'test MSE - irreducible error runs from {excess[gap.lo]:.4f} ({_at(axis, gap.lo)}) to '
        f'{excess[gap.hi]:.4f} ({_at(axis, gap.hi)}): a spread of {gap.value:.3g} ± {gap.se:.1g}'
      ),
      threshold=f'the gap between the curves constant: spread <= {zp:.2f} SE',
      passed=gap.value <= zp * gap.se,
      value=gap.value,
      primary=False,
      wrong_if_fails=True,
      correct=(
        'a horizontal floor under the test MSE, not parallel to it: the test MSE is above it '
        f'by bias² + variance, from {excess[gap.lo]:.3g} to {excess[gap.hi]:.3g}'
      ),
    )
  )
  zc = z_of(alpha, C)
  se = np.std(excess_b, axis=0, ddof=1)
  scores = excess / se
  k = int(np.argmin(scores))
  rows.append(
    v.test(
      '003 P1',
      f'the expected test MSE is always greater than Var(ε) ({tag})',
      document='"the expected test MSE will always be greater than the Var(ε)"',
      measured=(
        f'test MSE - Var(ε) >= {excess.min():.3g}; smallest margin {scores[k]:.1f} SE at '
        f'{_at(axis, k)}'
      ),
      threshold=f'test MSE - Var(ε) > {zc:.2f} SE at every point (Bonferroni over {C})',
      passed=bool(np.all(scores > zc)),
      value=float(excess.min()),
      primary=False,
      wrong_if_fails=True,
      correct='the test MSE dips to Var(ε) where bias² + variance vanish',
    )
  )
  return rows


def curve_rows(axis, curve, sign, cfg, tag) -> list:
  alpha, ratio = cfg['alpha'], cfg['max_rate_ratio']
  what = {
    'train': ('the training MSE declines', 'training MSE declines'),
    'bias2': ('the squared bias decreases', 'squared bias decreases'),
    'variance': ('the variance increases', 'variance increases'),
  }[curve]
  quote = {
    'train': '"The training MSE declines at a constant rate without oscillations"',
    'bias2': '"The squared bias decreases at a constant rate without oscillations"',
    'variance': '"the variance increases at a constant rate without oscillations"',
  }[curve]
  t = trend(axis, curve, sign, alpha)
  rows = [
    v.test(
      '003 P1',
      f'{what[0]} as complexity grows ({tag})',
      document=quote,
      measured=t.measured,
      threshold=t.threshold,
      passed=t.passed,
      value=t.value,
    )
  ]
  passed, measured, threshold, correct, share = constant_rate(axis, curve, ratio, alpha)
  rows.append(
    v.test(
      '003 P1',
      f'the {what[1]} at a constant rate ({tag})',
      document=quote,
      measured=measured,
      threshold=threshold,
      passed=passed,
      value=share,
      primary=False,
      wrong_if_fails=True,
      correct=correct,
    )
  )
  o = oscillations(axis, curve, sign, alpha)
  rows.append(
    v.test(
      '003 P1',
      f'the {what[1]} without oscillations ({tag})',
      document=quote,
      measured=o.measured,
      threshold=o.threshold,
      passed=o.passed,
      value=o.value,
      primary=False,
      wrong_if_fails=True,
      correct=f'it goes against the trend at {int(o.value)} step(s)',
    )
  )
  return rows


TAGS = {'poly': 'polynomial degree', 'mlp': 'MLP training time'}


def verdict(results) -> v.Verdict:
  cfg = results['config']
  vc, s = cfg['verdict'], cfg['data']['noise_sd']
  claims, table, reasons = [], [], []
  for name in AXES:
    axis = results['axes'][name]
    tag = TAGS[name]
    if not axis['finite']:
      reasons.append(f'the {tag} axis produced non-finite predictions (a diverged fit).')
    dec = decomposition(axis, s, vc['alpha'])
    claims.append(
      v.Check(
        f'test MSE = bias² + variance + σ² within the Monte-Carlo error ({tag})',
        dec.threshold,
        dec.measured,
        dec.passed,
        value=dec.value,
      )
    )
    if 'exact' in axis:
      ex = exact_match(axis, vc['alpha'])
      claims.append(
        v.Check(
          f'the Monte-Carlo curves equal the closed form of the fixed design ({tag})',
          ex.threshold,
          ex.measured,
          ex.passed,
          value=ex.value,
        )
      )
    u = u_shape(axis, vc['alpha'])
    claims.append(
      v.test(
        '003 P1',
        f'the test MSE first declines, then rises: U-shaped ({tag})',
        document='"an initial decline ... but at some point increases"',
        measured=u.measured,
        threshold=u.threshold,
        passed=u.passed,
        value=u.value,
      )
    )
    claims += curve_rows(axis, 'train', -1, vc, tag)
    claims += curve_rows(axis, 'bias2', -1, vc, tag)
    claims += curve_rows(axis, 'variance', +1, vc, tag)
    claims += noise_rows(axis, s, vc['alpha'], tag)
    cur = axis['curves']
    for i, x in enumerate(axis['values']):
      row = {'axis': tag, 'complexity': x}
      row.update({LABELS[k]: f'{cur[k][i]:.4f}' for k in CURVES})
      row['bias² + var + σ²'] = f'{cur["bias2"][i] + cur["variance"][i] + s**2:.4f}'
      gap, se = axis['decomposition']['gap'][i], axis['decomposition']['se'][i]
      row['test - sum (SE)'] = f'{gap:+.4f} ({se:.4f})'
      row['exact test (bias², var)'] = (
        f'{axis["exact"]["test"][i]:.4f} ({axis["exact"]["bias2"][i]:.4f}, '
        f'{axis["exact"]["variance"][i]:.4f})'
        if 'exact' in axis
        else '-'
      )
      table.append(row)
  outcome, reasons = v.decide(claims, reasons)
  return v.Verdict(outcome, claims, table, reasons)


def plot(results, workdir) -> list[str]:
  """The five curves against each complexity axis, with their bootstrap 99% bands."""
  import matplotlib.pyplot as plt

  alpha = results['config']['verdict']['alpha']
  fig, axes = plt.subplots(1, len(AXES), figsize=(6.5 * len(AXES), 4.6))
  colors = dict(
    bias2='tab:blue', variance='tab:orange', noise='k', train='tab:green', test='tab:red'
  )
  for ax, name in zip(axes, AXES):
    axis = results['axes'][name]
    x = np.arange(len(axis['values']))
    for k in CURVES:
      c, b = np.asarray(axis['curves'][k]), np.asarray(axis['boot'][k])
      lo, hi = np.quantile(b, [alpha / 2, 1 - alpha / 2], axis=0)
      ls = '--' if k == 'noise' else '-'
      ax.plot(x, c, ls, marker='o', ms=3, color=colors[k], label=LABELS[k])
      ax.fill_between(x, lo, hi, color=colors[k], alpha=0.2)
    if 'exact' in axis:
      for k in ('bias2', 'variance', 'test'):
        ax.plot(x, axis['exact'][k], ':', color=colors[k], lw=1)
    top = max(axis['curves']['test'][0], axis['curves']['test'][-1])
    ax.set(ylim=(0, 1.1 * top), xticks=x, xlabel=axis['label'], ylabel='mean squared error')
    ax.set_xticklabels([str(val) for val in axis['values']], fontsize=7)
    extra = '; dotted: closed form' if 'exact' in axis else ''
    ax.set_title(f'{TAGS[name]}: {axis["datasets"]} training sets{extra}', fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
  fig.suptitle(f'003 P1: bias-variance decomposition ({results["dataset"]["name"]})', fontsize=10)
  return [report.save_figure(fig, os.path.join(workdir, 'bias_variance.png'))]
