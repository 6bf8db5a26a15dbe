"""The PyTorch peer of the dropout sweep, as one process: load data once, loop over the rates.

Run as `python -m bench.torch_sweep`; the suite (bench/run.py) times the whole process, from
start to the last line, which is the JSON result. The data is the framework's own split
(data.load, numpy only), so both frameworks train and test on the same images.
"""

import argparse
import json
import os

from bench import torch_peers


def main():
  import data

  p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  p.add_argument('--train_subset', type=int, default=0, help='0: all 55,000 training images')
  a = p.parse_args()
  root = os.environ.get('JAX_FINDINGS_DATA') or os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    'shared',
    'datasets',
  )
  ds = data.load(
    'mnist',
    data_dir=root,
    validation_size=5000,
    download=False,
    allow_standin=False,
    train_subset=a.train_subset or None,
  )
  res = torch_peers.dropout_sweep(ds.train_x, ds.train_y, ds.test_x, ds.test_y)
  res['accuracy'] = {str(k): v for k, v in res['accuracy'].items()}
  print(json.dumps(res))


if __name__ == '__main__':
  main()
