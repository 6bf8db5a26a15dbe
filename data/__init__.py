"""Datasets for jax-findings: MNIST, Fashion-MNIST and a file-free stand-in."""

from data.datasets import Dataset
from data.datasets import load
from data.datasets import NAMES
from data.errors import DataError
from data.errors import DataNotFoundError
