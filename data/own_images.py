"""A person's own digit images turned into MNIST-like inputs.

MNIST digits are light on dark, size-normalised into a 20x20 box (aspect kept, anti-aliased) and
placed in a 28x28 field with their centre of mass at the centre (LeCun et al.'s description of
the dataset). `to_mnist` does the same to a photo or drawing of any size, dark on light or light
on dark.
"""

import numpy as np
from PIL import Image, UnidentifiedImageError

from data.errors import DataError

BOX, FIELD = 20, 28


def read_gray(path: str) -> np.ndarray:
  """The image as float32 gray levels in [0, 1]; transparency is composited onto white."""
  try:
    with Image.open(path) as img:
      img.load()
      if img.mode in ('RGBA', 'LA', 'P'):
        img = img.convert('RGBA')
        white = Image.new('RGBA', img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, img)
      gray = np.asarray(img.convert('L'), np.float32) / 255.0
  except FileNotFoundError:
    raise DataError(f'{path}: no such file.') from None
  except (UnidentifiedImageError, OSError, ValueError) as e:
    raise DataError(f'{path}: not a readable image ({e}). Pass a PNG or JPEG file.') from None
  return gray


def to_mnist(gray: np.ndarray, name: str = 'image', min_contrast: float = 0.2) -> np.ndarray:
  """(H, W) gray levels -> (28, 28, 1) float32 in [0, 1], the digit light on dark like MNIST.

  The background is the median of the border pixels; an image whose border is lighter than its
  middle is inverted. Ink is whatever differs from the background by more than `min_contrast` of
  the full range; an image without ink is refused.
  """
  if gray.ndim != 2 or min(gray.shape) < 2:
    raise DataError(f'{name}: an image of at least 2x2 pixels is needed, got shape {gray.shape}.')
  border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
  background = float(np.median(border))
  ink = gray - background if background < 0.5 else background - gray
  ink = np.clip(ink, 0.0, None)
  if ink.max() < min_contrast:
    raise DataError(
      f'{name}: no digit found (the image is empty or has no contrast; the ink '
      f'must differ from the background by at least {min_contrast:.0%}).'
    )
  ink = ink / ink.max()
  rows = np.flatnonzero((ink > min_contrast).any(axis=1))
  cols = np.flatnonzero((ink > min_contrast).any(axis=0))
  digit = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
  h, w = digit.shape
  scale = BOX / max(h, w)
  size = (max(1, round(w * scale)), max(1, round(h * scale)))
  boxed = np.asarray(Image.fromarray(digit).resize(size, Image.LANCZOS), np.float32)
  boxed = np.clip(boxed, 0.0, 1.0)
  field = np.zeros((FIELD, FIELD), np.float32)
  cy, cx = _centre_of_mass(boxed)
  top = int(np.clip(round(FIELD / 2 - cy), 0, FIELD - boxed.shape[0]))
  left = int(np.clip(round(FIELD / 2 - cx), 0, FIELD - boxed.shape[1]))
  field[top : top + boxed.shape[0], left : left + boxed.shape[1]] = boxed
  return field[..., None]


def _centre_of_mass(image):
  total = image.sum()
  ys, xs = np.indices(image.shape)
  return float((ys * image).sum() / total) + 0.5, float((xs * image).sum() / total) + 0.5


def load(path: str) -> np.ndarray:
  """`to_mnist(read_gray(path))`."""
  return to_mnist(read_gray(path), name=path)
