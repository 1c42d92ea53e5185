"""
The ``deepsort-ros`` command: one entry point, one sub-command per job.

Sub-commands live in their own modules and are imported only when used, so that
``deepsort-ros track`` never pays for torch or rclpy imports it does not need.
Each module exposes ``add_arguments(parser)`` and ``main(args) -> int``.
"""

import argparse
import importlib
import sys
from typing import Optional, Sequence

# name -> (module, one-line help)
SUBCOMMANDS = {
    'track': ('deepsort_ros.offline.track_command',
              'track a MOTChallenge-style sequence or a ROS 2 bag offline'),
    'bag-from-sequence': ('deepsort_ros.bag.from_sequence',
                          'write a ROS 2 bag (images, camera info, detections, odometry) from '
                          'a MOTChallenge sequence or a video'),
    'play': ('deepsort_ros.bag.play', "publish a bag's topics at the recorded speed"),
    'train-reid': ('deepsort_ros.reid.train_command',
                   'train or fine-tune the Re-ID encoder on MOTChallenge-style sequences'),
}


def build_parser() -> argparse.ArgumentParser:
    """
    Build the parser with every sub-command whose module is importable.

    Returns
    -------
    argparse.ArgumentParser
        The top-level parser.

    """
    parser = argparse.ArgumentParser(
        prog='deepsort-ros', description='deepsort_ros command-line tools.')
    subparsers = parser.add_subparsers(dest='command', metavar='COMMAND')
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(_module=module_name)
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            sub.set_defaults(_import_error=error)
            continue
        module.add_arguments(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """
    Run the ``deepsort-ros`` command.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; ``sys.argv[1:]`` when omitted.

    Returns
    -------
    int
        The process exit status.

    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    error = getattr(args, '_import_error', None)
    if error is not None:
        print(f'deepsort-ros {args.command}: cannot load {args._module}: {error}. '
              'Run ./dev.sh setup to (re)install the environment.', file=sys.stderr)
        return 2
    module = importlib.import_module(args._module)
    return int(module.main(args) or 0)


if __name__ == '__main__':
    sys.exit(main())
