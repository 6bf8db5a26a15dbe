"""bench/conv_kernels.py times the same convolution passes in JAX and PyTorch."""

import numpy as np
import pytest

from bench import conv_kernels


@pytest.mark.parametrize('conv', sorted(conv_kernels.CONVS))
@pytest.mark.parametrize('which', conv_kernels.PASSES)
def test_both_frameworks_compute_the_same_pass(conv, which):
  pytest.importorskip('torch')
  a = conv_kernels.make_pass('jax', conv, which).result
  b = conv_kernels.make_pass('torch', conv, which).result
  assert a.shape == b.shape
  np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-3 * float(np.abs(b).max()))


def test_a_different_input_gives_a_different_pass():
  """The comparison above can fail: another seed's input gives another output."""
  a = conv_kernels.make_pass('jax', 'cnn_conv2', 'forward', seed=0).result
  b = conv_kernels.make_pass('jax', 'cnn_conv2', 'forward', seed=1).result
  assert not np.allclose(a, b, atol=1e-2)
