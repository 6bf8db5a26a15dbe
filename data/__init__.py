"""Datasets for jax-findings: MNIST, Fashion-MNIST, CIFAR-10 and a file-free stand-in."""

from data.datasets import NAMES, Dataset, load
from data.errors import DataError, DataNotFoundError

__all__ = ['NAMES', 'DataError', 'DataNotFoundError', 'Dataset', 'load']
