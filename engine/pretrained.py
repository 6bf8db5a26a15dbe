"""Weights from elsewhere: a model's parameters start from another run or a Keras HDF5 file.

`config.transfer` (engine/base_config.py `transfer_config`) names the source:
- `checkpoint_dir`: the work dir of another run; the parameters of the model at point `point`
  (its label, e.g. 'base' or 'dropout_rate=0.5') and seed `seed` (-1: each model takes the
  source model of its own seed) are restored from that group's newest orbax checkpoint, shaped
  from the checkpoint's own metadata, parameters only (no optimizer state is read);
- `keras_weights`: a Keras HDF5 weights file of VGG16 or VGG19 (what
  `keras.applications.VGG19(weights='imagenet')` loads: layer groups `block1_conv1` ...
  holding `kernel:0` / `bias:0`, HWIO kernels; with the top, `fc1`, `fc2`, `predictions`),
  mapped onto nets/vgg.py's `Conv_i` / `Dense_i` for the model's configuration (D or E).

Every parameter of the model is loaded, except those `keep_init` selects (glob patterns over
module paths, as for freezing), which keep their fresh initialization: a new head. A parameter
missing from the source, a source layer the model lacks, or a shape that differs is a UserError
listing the first few of them. The source's values replace the freshly initialized ones after
the group's init program; the optimizer state depends only on shapes, so it stays valid.
"""

import functools
import glob
import itertools
import json
import os
from typing import NamedTuple

import jax
import numpy as np
import orbax.checkpoint as ocp

from engine import freezing
from engine.errors import UserError

SHOWN = 5  # offending layers named in an error
VGG_KERAS = {'D': 'VGG16', 'E': 'VGG19'}
KERAS_TOP = ('fc1', 'fc2', 'predictions')


class Source(NamedTuple):
  """Where a group's parameters come from: one flat {path: array} per model, and its name."""

  describe: str
  per_model: list  # of dict {'Conv_0/kernel': np.ndarray}, one per model of the group
  names: dict  # {path: the source's own name of it}, for messages


def settings(config):
  """The `transfer` section when it names a source, else None."""
  t = config.get('transfer') if hasattr(config, 'get') else None
  if t is None or not (t.get('checkpoint_dir') or t.get('keras_weights')):
    return None
  if t.get('checkpoint_dir') and t.get('keras_weights'):
    raise UserError(
      'Both --config.transfer.checkpoint_dir and --config.transfer.keras_weights are set; a '
      "model's weights come from one source. Set one of them to ''."
    )
  return t


def flat(params) -> dict:
  """`{'Conv_0/kernel': array}` of a nested params tree."""
  return {
    freezing.path_of(kp): leaf for kp, leaf in jax.tree_util.tree_flatten_with_path(params)[0]
  }


# ----------------------------------------------------------------------- another run's checkpoint


def find_model(workdir: str, point: str, seed: int) -> tuple[str, int]:
  """(the checkpoint dir of the group holding `point` and `seed` in `workdir`, its model index)."""
  found = []
  for path in sorted(glob.glob(os.path.join(workdir, 'groups', '*', 'result.json'))):
    with open(path) as f:
      result = json.load(f)
    points, seeds = result.get('points', []), result.get('seeds', [])
    found += [f'{p} (seeds {", ".join(map(str, seeds))})' for p in points]
    if point in points and seed in seeds:
      index = points.index(point) * len(seeds) + seeds.index(seed)
      return os.path.join(os.path.dirname(path), 'checkpoints'), index
  where = f'it holds {"; ".join(found)}' if found else 'it holds no finished group'
  raise UserError(
    f'--config.transfer.checkpoint_dir={workdir} has no trained model at point {point!r} with '
    f'seed {seed}: {where}. Pass the work dir of a finished run, a point label it holds '
    "(--config.transfer.point; 'base' for a run without a sweep) and one of its seeds "
    '(--config.transfer.seed; -1 takes each model from the source model of its own seed).'
  )


@functools.lru_cache(maxsize=32)
def restore_params(directory: str, index: int, step: int | None = None) -> dict:
  """The parameters of model `index` in the newest (or `step`'s) checkpoint of `directory`.

  Only `states/params` is read (a partial restore), shaped from the checkpoint's metadata, so
  no model or optimizer is built; onto this process's first device, as host arrays.
  """
  directory = os.path.abspath(directory)
  with ocp.CheckpointManager(directory, item_handlers=ocp.PyTreeCheckpointHandler()) as mngr:
    step = mngr.latest_step() if step is None else step
    if step is None:
      raise UserError(f'No checkpoint in {directory}; finish the source run first.')
    meta = mngr.item_metadata(step)
    meta = getattr(meta, 'tree', meta)
    here = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    target = {
      'states': {
        'params': jax.tree.map(
          lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=here),
          meta['states']['params'],
        )
      }
    }
    restored = mngr.restore(
      step,
      args=ocp.args.PyTreeRestore(
        item=target,
        restore_args=ocp.checkpoint_utils.construct_restore_args(target),
        partial_restore=True,
      ),
    )
  return jax.tree.map(lambda a: np.asarray(a[index]), restored['states']['params'])


def from_checkpoint(t, seeds) -> Source:
  per_model = []
  for s in seeds:
    directory, index = find_model(t.checkpoint_dir, t.point, s if t.seed < 0 else t.seed)
    per_model.append(flat(restore_params(directory, index)))
  names = {k: f'{t.point}/{k}' for k in per_model[0]}
  return Source(f'the run in {t.checkpoint_dir} ({t.point})', per_model, names)


# ----------------------------------------------------------------------- a Keras HDF5 file


def read_keras_h5(path: str) -> dict:
  """`{layer: {weight name: array}}` of a Keras HDF5 weights (or whole-model) file.

  Layers and weights in the order Keras' `load_weights` reads them (the `layer_names` and
  `weight_names` attributes), weight names shortened to 'kernel' / 'bias'.
  """
  import h5py

  if not os.path.isfile(path):
    raise UserError(
      f'--config.transfer.keras_weights={path} is not a file. Pass the path of a Keras HDF5 '
      "weights file, e.g. the one keras.applications.VGG19(weights='imagenet') downloads to "
      '~/.keras/models/vgg19_weights_tf_dim_ordering_tf_kernels(_notop).h5.'
    )
  try:
    f = h5py.File(path, 'r')
  except OSError as e:
    raise UserError(f'{path} is not an HDF5 file ({e}); pass a Keras .h5 weights file.') from None
  with f:
    root = f['model_weights'] if 'model_weights' in f else f
    text = lambda xs: [x.decode() if isinstance(x, bytes) else str(x) for x in xs]
    names = text(root.attrs['layer_names']) if 'layer_names' in root.attrs else list(root)
    out = {}
    for name in names:
      group = root[name]
      if 'weight_names' in group.attrs:
        weights = text(group.attrs['weight_names'])
      else:
        weights = _dataset_names(group)
      if weights:
        out[name] = {w.split('/')[-1].split(':')[0]: np.asarray(group[w]) for w in weights}
  return out


def _dataset_names(group) -> list:
  import h5py

  names = []
  group.visititems(lambda n, obj: names.append(n) if isinstance(obj, h5py.Dataset) else None)
  return names


def keras_vgg_names(model_config) -> dict:
  """`{Keras layer name: nets/vgg.py module name}` for the model's VGG configuration."""
  from nets import vgg

  configuration = model_config.get('configuration', 'D')
  if model_config.get('name') != 'vgg' or configuration not in VGG_KERAS:
    raise UserError(
      f'Keras weights (--config.transfer.keras_weights) map onto VGG16 or VGG19 only; the model '
      f'is {model_config.get("name")!r} (configuration {configuration!r}). Set '
      "--config.model.name=vgg and --config.model.configuration to 'D' (VGG16) or 'E' (VGG19)."
    )
  names, conv = {}, 0
  for stage, layers in enumerate(vgg.CONFIGURATIONS[configuration], 1):
    for i, _ in enumerate(layers, 1):
      names[f'block{stage}_conv{i}'] = f'Conv_{conv}'
      conv += 1
  if model_config.get('hidden_layers', 2) == 2:
    names.update({k: f'Dense_{i}' for i, k in enumerate(KERAS_TOP)})
  return names


def from_keras(t, model_config, models: int) -> Source:
  layers = read_keras_h5(t.keras_weights)
  mapping = keras_vgg_names(model_config)
  params = {}
  names = {f'{m}/{w}': f'{k}/{w}:0' for k, m in mapping.items() for w in ('kernel', 'bias')}
  for layer, weights in layers.items():
    if layer not in mapping and layer in KERAS_TOP:
      continue  # the model has no hidden FC layers: the file's top is not used (include_top=False)
    module = mapping.get(layer, f'{layer} (Keras)')
    for w, value in weights.items():
      params[f'{module}/{w}'] = value
      names[f'{module}/{w}'] = f'{layer}/{w}:0'
  kind = VGG_KERAS[model_config.get('configuration', 'D')]
  return Source(f'the Keras {kind} weights {t.keras_weights}', [params] * models, names)


# ----------------------------------------------------------------------- onto the model


def check(source: Source, target: dict, keep_init) -> list[str]:
  """The paths of `target` ({path: shape}) to load; UserError listing mismatches."""
  keep_init = tuple(keep_init)
  idle = [p for p in keep_init if not any(freezing.selects(p, n) for n in target)]
  if idle:
    raise UserError(
      f'The keep_init pattern(s) {", ".join(map(repr, idle))} (config.transfer.keep_init) match '
      f'no parameter of the model ({", ".join(sorted({n.split("/")[0] for n in target}))}).'
    )
  kept = {n for n in target if any(freezing.selects(p, n) for p in keep_init)}
  src = source.per_model[0]
  label = lambda p: f'{p} <- {source.names[p]}' if p in source.names else p
  problems = []
  for path, shape in target.items():
    if path in kept:
      continue
    if path not in src:
      problems.append(f'{label(path)}: missing from the source')
    elif tuple(np.shape(src[path])) != tuple(shape):
      problems.append(
        f'{label(path)}: shape {tuple(np.shape(src[path]))} in the source, '
        f'{tuple(shape)} in the model'
      )
  problems += [
    f'{source.names.get(p, p)}: in the source, not in the model'
    for p in src
    if p not in target and not any(freezing.selects(k, p) for k in keep_init)
  ]
  if problems:
    more = f'; and {len(problems) - SHOWN} more' if len(problems) > SHOWN else ''
    raise UserError(
      f'The weights of {source.describe} do not fit the model ({len(problems)} mismatch(es)): '
      f'{"; ".join(problems[:SHOWN])}{more}. Pick the model config the weights were trained '
      'with (for Keras VGG files, model.configuration D for VGG16, E for VGG19), or list the '
      'layers that should keep their fresh initialization (a new head) in '
      '--config.transfer.keep_init, e.g. "(\'Dense_*\',)".'
    )
  return [p for p in target if p not in kept]


def load(config, target: dict, seeds) -> dict:
  """`{path: array over models}` that `config.transfer` loads into models of `seeds`.

  `target` is `{path: shape}` of one model's parameters; `seeds` the seed of each model (the
  group's order, point-major); {} when `config` names no source.
  """
  t = settings(config)
  if t is None:
    return {}
  if t.get('keras_weights'):
    source = from_keras(t, config.model, len(seeds))
  else:
    source = from_checkpoint(t, seeds)
  paths = check(source, target, t.get('keep_init', ()))
  return {p: np.stack([np.asarray(m[p]) for m in source.per_model]) for p in paths}


def shapes(model, sample_x) -> dict:
  """`{path: shape}` of `model`'s parameters, traced (nothing is allocated or compiled)."""
  variables = jax.eval_shape(
    lambda x: model.init({'params': jax.random.PRNGKey(0)}, x, train=False), sample_x
  )
  return {p: a.shape for p, a in flat(variables['params']).items()}


def apply(group, layout, states):
  """`states` with the parameters from `group.config.transfer`'s source (unchanged without one)."""
  if settings(group.config) is None:
    return states
  target = {p: a.shape[1:] for p, a in flat(states.params).items()}
  rows = load(group.config, target, [s for _ in group.points for s in group.seeds])

  def put(kp, leaf):
    path = freezing.path_of(kp)
    return layout.put(rows[path].astype(leaf.dtype)) if path in rows else leaf

  return states.replace(params=jax.tree_util.tree_map_with_path(put, states.params))


def write_keras_h5(path: str, layers: dict) -> None:
  """Writes `{layer: {'kernel': array, 'bias': array}}` in the layout of Keras' `save_weights`.

  Root attribute `layer_names`, per layer `weight_names` ('block1_conv1/kernel:0', ...) and a
  dataset at `layer/weight_name`; layers without weights (input, pools) are listed with none.
  For tests and for handing trained weights to Keras.
  """
  import h5py

  with h5py.File(path, 'w') as f:
    f.attrs['layer_names'] = np.array([n.encode() for n in layers])
    f.attrs['backend'] = b'tensorflow'
    f.attrs['keras_version'] = b'2.12.0'
    for name, weights in layers.items():
      group = f.create_group(name)
      names = [f'{name}/{w}:0' for w in weights]
      group.attrs['weight_names'] = np.array([n.encode() for n in names], dtype='S')
      for n, value in zip(names, weights.values()):
        group.create_dataset(n, data=np.asarray(value, np.float32))


def keras_vgg_layers(configuration: str, *, width_divisor: int = 1, top=None, seed: int = 0):
  """Random weights with the Keras VGG layer names and shapes (`top`: (flat, hidden, classes)).

  Includes the weightless input and pool layers as Keras lists them; for tests and examples.
  """
  from nets import vgg

  rng = np.random.default_rng(seed)
  layers, channels = {'input_1': {}}, 3
  for stage, widths in enumerate(vgg.CONFIGURATIONS[configuration], 1):
    for i, width in enumerate(widths, 1):
      width = max(1, width // width_divisor)
      layers[f'block{stage}_conv{i}'] = {
        'kernel': rng.standard_normal((3, 3, channels, width)).astype(np.float32),
        'bias': rng.standard_normal(width).astype(np.float32),
      }
      channels = width
    layers[f'block{stage}_pool'] = {}
  if top is not None:
    layers['flatten'] = {}
    sizes = (top[0], top[1], top[1], top[2])
    for name, (n_in, n_out) in zip(KERAS_TOP, itertools.pairwise(sizes)):
      layers[name] = {
        'kernel': rng.standard_normal((n_in, n_out)).astype(np.float32),
        'bias': rng.standard_normal(n_out).astype(np.float32),
      }
  return layers
