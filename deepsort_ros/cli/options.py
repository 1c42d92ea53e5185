"""
What the sub-commands that run the node's pipeline offline share (``track --bag``, ``fuse``).

Their encoder options mean the same, and the node's settings come from one place: the
parameters file, then the command line's encoder and appearance options.
"""

import argparse
from typing import Any, Dict, Optional, Tuple


def add_encoder_options(parser: argparse.ArgumentParser) -> None:
    """
    Add ``--reid-device`` and ``--reid-backend``, which override the parameters file's.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The sub-command's parser.

    """
    parser.add_argument('--reid-device', default=None,
                        help="auto | cpu | cuda | cuda:N (default: the params file's "
                        'encoder_device, else auto)')
    parser.add_argument('--reid-backend', default=None,
                        help='auto | torch | torchscript | onnx (fastest on a CPU; default: '
                        "the params file's encoder_backend, else auto)")


def node_configs(args: argparse.Namespace,
                 tracker_values: Optional[Dict[str, Any]] = None) -> Tuple[Any, Any]:
    """
    Return the node's settings for an offline run: its parameters file, then the options.

    Parameters
    ----------
    args : argparse.Namespace
        ``params_file`` (None for the node's defaults), ``reid_weights`` ('default' for the
        built-in model), ``reid_device``, ``reid_backend`` (None keeps the file's) and
        ``no_appearance``.
    tracker_values : dict, optional
        TrackerConfig settings by name, over the file's ``tracker.*``.

    Returns
    -------
    node : NodeConfig
    tracker : TrackerConfig

    """
    from dataclasses import replace

    from deepsort_ros.settings import tracker as nc

    values = nc.load_params_file(args.params_file) if args.params_file else {}
    for name, value in (tracker_values or {}).items():
        values[nc.TRACKER_PREFIX + name] = value
    node, tracker = nc.split_parameters(values)
    encoder_overrides = {'encoder_weights': '' if args.reid_weights == 'default'
                         else args.reid_weights, 'encoder_device': args.reid_device,
                         'encoder_backend': args.reid_backend}
    node = replace(node, **{k: v for k, v in encoder_overrides.items() if v is not None})
    if args.no_appearance:
        node = replace(node, use_appearance=False)
    return node, tracker
