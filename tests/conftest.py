"""Shared pytest fixtures."""

import pathlib

import pytest


@pytest.fixture(scope='session')
def shared_datasets() -> str:
  """The offline datasets directory: `shared/datasets` beside the repo."""
  path = pathlib.Path(__file__).resolve().parents[2] / 'shared' / 'datasets'
  if not (path / 'mnist').is_dir():
    pytest.skip(f'no shared datasets at {path}')
  return str(path)
