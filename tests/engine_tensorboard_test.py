"""engine/tensorboard.py hides torch from tensorboardX's import only while it imports."""

import importlib
import sys
import types

import pytest

from engine import tensorboard


def test_torch_is_hidden_inside_and_importable_again_after(monkeypatch):
  monkeypatch.delitem(sys.modules, 'torch', raising=False)
  with tensorboard.torch_hidden():
    with pytest.raises(ImportError):
      importlib.import_module('torch')
  assert sys.modules.get('torch', 'absent') is not None  # a later `import torch` is not halted


def test_an_imported_torch_is_left_alone(monkeypatch):
  stub = types.ModuleType('torch')
  monkeypatch.setitem(sys.modules, 'torch', stub)
  with tensorboard.torch_hidden():
    assert sys.modules['torch'] is stub
  assert sys.modules['torch'] is stub


def test_the_summary_writer_imports_without_leaving_torch_hidden(monkeypatch):
  monkeypatch.delitem(sys.modules, 'torch', raising=False)
  assert tensorboard._summary_writer_class().__name__ == 'SummaryWriter'
  assert sys.modules.get('torch', 'absent') is not None
