"""Three gaussian blobs in 2-D: the classic small multi-class problem for learning-rate studies.

scikit-learn's `make_blobs(centers=3, n_features=2, cluster_std=2.0, random_state=seed)`, the
setting of the learning-rate-decay tutorials that the exam's figure comes from (1,000 points,
seed 2, the first half for training and the second for testing). The centers are drawn in
[-10, 10]^2 from the seed; a standard deviation of 2 makes the blobs overlap, so no classifier
reaches 100%. Validation points are a fresh sample around the same centers.
"""

import numpy as np

NAME = 'blobs'
NUM_CLASSES = 3
CLUSTER_STD = 2.0


def splits(*, num_samples: int, train_fraction: float, validation_size: int, seed: int):
  """Returns (train_x, train_y, val_x, val_y, test_x, test_y); x float32 (N, 2), y int32."""
  import sklearn.datasets  # pylint: disable=g-import-not-at-top  (slow; only blobs need it)

  x, y, centers = sklearn.datasets.make_blobs(
    n_samples=num_samples,
    centers=NUM_CLASSES,
    n_features=2,
    cluster_std=CLUSTER_STD,
    random_state=seed,
    return_centers=True,
  )
  val_x, val_y = sklearn.datasets.make_blobs(
    n_samples=validation_size,
    centers=centers,
    cluster_std=CLUSTER_STD,
    random_state=np.random.RandomState([seed, 1]),
  )
  k = round(num_samples * train_fraction)
  x, y = x.astype(np.float32), y.astype(np.int32)
  return x[:k], y[:k], val_x.astype(np.float32), val_y.astype(np.int32), x[k:], y[k:]
