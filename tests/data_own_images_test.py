"""A person's own digit images become MNIST-like 28x28 inputs."""

import numpy as np
import pytest
from PIL import Image

from data import own_images
from data.errors import DataError


def _bar_image(dark_on_light=True, size=(300, 200)):
  """A thick off-centre vertical stroke, 150 pixels tall, on a large canvas."""
  img = np.zeros(size, np.float32)
  img[40:190, 30:60] = 1.0
  return 1.0 - img if dark_on_light else img


@pytest.mark.parametrize('dark_on_light', [True, False])
def test_digit_is_light_on_dark_boxed_and_centred(dark_on_light):
  x = own_images.to_mnist(_bar_image(dark_on_light))
  assert x.shape == (28, 28, 1) and x.dtype == np.float32
  ink = x[..., 0]
  assert ink[0, 0] == 0.0 and ink.max() == pytest.approx(1.0, abs=0.05)
  rows = np.flatnonzero(ink.max(axis=1) > 0.5)
  assert rows[-1] - rows[0] + 1 == 20  # the long side scaled into the 20x20 box
  ys, xs = np.indices(ink.shape)
  cy, cx = (ys * ink).sum() / ink.sum() + 0.5, (xs * ink).sum() / ink.sum() + 0.5
  assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5


def test_files_round_trip_and_bad_files_get_a_clear_message(tmp_path):
  path = tmp_path / 'digit.png'
  Image.fromarray((255 * _bar_image()).astype(np.uint8)).save(path)
  np.testing.assert_allclose(
    own_images.load(str(path)), own_images.to_mnist(_bar_image()), atol=1e-2
  )
  Image.new('L', (40, 40), 255).save(tmp_path / 'blank.png')
  with pytest.raises(DataError, match='no digit found'):
    own_images.load(str(tmp_path / 'blank.png'))
  (tmp_path / 'text.png').write_text('not an image')
  with pytest.raises(DataError, match='not a readable image'):
    own_images.load(str(tmp_path / 'text.png'))
  with pytest.raises(DataError, match='no such file'):
    own_images.load(str(tmp_path / 'missing.png'))
