"""The PyTorch peer of the dropout sweep, as one process: load data once, loop over the rates.

Run as `python -m bench.torch_sweep --spec=JSON`; the suite (bench/run.py) builds the spec from
the finding's own config (rates, epochs, batch size, seeds, which images are evaluated) and
times the whole process, from start to the last line, which is the JSON result. The data is the
framework's own split (data.load, numpy only), so both frameworks train and evaluate the same
images.
"""

import argparse
import json

from bench import torch_peers, worker


def main():
  p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  p.add_argument('--spec', required=True, help='JSON: bench.run.sweep_spec()')
  spec = json.loads(p.parse_args().spec)
  ds = worker.mnist(spec['validation_size'], spec['train_subset'])
  k = spec['eval_train_size'] or len(ds.train_y)
  splits = {
    'fit': (ds.train_x, ds.train_y),
    'train': (ds.train_x[:k], ds.train_y[:k]),
    'validation': (ds.val_x, ds.val_y),
    'test': (ds.test_x, ds.test_y),
  }
  res = torch_peers.dropout_sweep(
    splits,
    rates=spec['rates'],
    epochs=spec['epochs'],
    batch=spec['batch_size'],
    eval_batch=spec['eval_batch_size'],
    seeds=spec['seeds'],
  )
  res['accuracy'] = {str(k): v for k, v in res['accuracy'].items()}
  res['peak_rss_mb'] = worker.peak_rss_mb()
  print(json.dumps(res))


if __name__ == '__main__':
  main()
