"""Image augmentation on device, inside the jitted train step, from the step's key.

torchvision's CIFAR-10 recipe (`003 P8`, kuangliu/pytorch-cifar) as array functions:
`RandomCrop(32, padding=4)` pads each image with 4 black pixels on every side and cuts a 32x32
window at a uniformly drawn offset (0-8 in each direction); `RandomHorizontalFlip(0.5)` mirrors
it with probability 0.5; `Normalize(mean, std)` maps each channel to (x - mean) / std. The
training images get all three, the evaluated ones the normalization only, as in the recipe.

The document calls its second triple (0.2023, 0.1994, 0.2010) a "variance"; `Normalize` divides
by it, so it acts as a standard deviation (the finding measures which statistic of CIFAR-10 it
is). Each image draws from its own key, split from the batch's, so a batch augmented in one
vmapped program equals its images augmented one by one.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp


class Spec(NamedTuple):
  """What to do to the images: hashable, so compiled programs can be cached on it."""

  crop_padding: int = 0  # 0: no random crop
  flip_probability: float = 0.0
  mean: tuple = ()  # per channel; () with std (): no normalization
  std: tuple = ()


def from_config(config) -> Spec | None:
  """The Spec of a config's `augment` block (None where absent or with `enabled` False)."""
  if config is None or not config.get('enabled', True):
    return None
  spec = Spec(
    crop_padding=int(config.get('crop_padding', 0)),
    flip_probability=float(config.get('flip_probability', 0.0)),
    mean=tuple(float(x) for x in config.get('mean', ())),
    std=tuple(float(x) for x in config.get('std', ())),
  )
  if spec.crop_padding < 0 or not 0.0 <= spec.flip_probability <= 1.0:
    raise ValueError(
      f'augment.crop_padding must be >= 0 and augment.flip_probability in [0, 1]; got '
      f'{spec.crop_padding} and {spec.flip_probability}.'
    )
  if len(spec.mean) != len(spec.std) or any(s <= 0 for s in spec.std):
    raise ValueError(
      f'augment.mean and augment.std need one value per channel each, std > 0; got '
      f'{spec.mean} and {spec.std}.'
    )
  return spec


def random_crop(key, image, padding: int):
  """A window of the image's size at a random offset of the image zero-padded by `padding`."""
  h, w, c = image.shape
  padded = jnp.pad(image, ((padding, padding), (padding, padding), (0, 0)))
  dy, dx = jax.random.randint(key, (2,), 0, 2 * padding + 1)
  return jax.lax.dynamic_slice(padded, (dy, dx, 0), (h, w, c))


def random_flip(key, image, probability: float):
  """The image mirrored left-right with `probability`."""
  return jnp.where(jax.random.bernoulli(key, probability), image[:, ::-1], image)


def normalize(images, mean, std):
  """(x - mean) / std per channel (the last axis)."""
  return (images - jnp.asarray(mean, images.dtype)) / jnp.asarray(std, images.dtype)


def augment_one(key, image, spec: Spec):
  """Crop, then flip, as torchvision applies them; normalization is separate (`normalize`)."""
  crop_key, flip_key = jax.random.split(key)
  if spec.crop_padding:
    image = random_crop(crop_key, image, spec.crop_padding)
  if spec.flip_probability:
    image = random_flip(flip_key, image, spec.flip_probability)
  return image


def train_images(key, images, spec: Spec):
  """A training batch (N, H, W, C) augmented (image i from `split(key, N)[i]`) and normalized."""
  if spec.crop_padding or spec.flip_probability:
    keys = jax.random.split(key, images.shape[0])
    images = jax.vmap(augment_one, in_axes=(0, 0, None))(keys, images, spec)
  return eval_images(images, spec)


def eval_images(images, spec: Spec):
  """An evaluated batch: normalized only."""
  return normalize(images, spec.mean, spec.std) if spec.mean else images
