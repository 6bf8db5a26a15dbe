"""Pure linen modules, built by name from a config.

Every module is called as `module.apply(variables, x, train=..., dropout_rate=...)`, so the
engine can treat them alike; `dropout_rate` may be a traced scalar.
"""

from nets.alexnet import AlexNet
from nets.cnn import CNN
from nets.inception import GoogLeNet
from nets.lenet import CaffeLeNet, LeNet5
from nets.mlp import MLP
from nets.resnet import ResNet
from nets.vgg import VGG

MODELS = {
  'mlp': MLP,
  'cnn': CNN,
  'caffe_lenet': CaffeLeNet,
  'lenet5': LeNet5,
  'vgg': VGG,
  'alexnet': AlexNet,
  'googlenet': GoogLeNet,
  'resnet18': ResNet,
}
# Models built of convolutions: on XLA:CPU they train one per program, not vmapped (engine/run.py).
CONV_MODELS = ('cnn', 'caffe_lenet', 'lenet5')


def build(name: str, **fields):
  """Returns the module `name` with `fields` (sequences become tuples, as linen expects)."""
  if name not in MODELS:
    raise ValueError(f'Unknown model {name!r}; known: {", ".join(sorted(MODELS))}.')
  fields = {k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()}
  return MODELS[name](**fields)
