"""
The ``deepsort-ros`` command: one entry point, one sub-command per job.

Sub-command modules are light (argparse only); their ``main`` imports what the job needs, so
``deepsort-ros track --sequence`` never pays for rclpy, rosbags or torch it does not use.
"""

import argparse
import importlib
import sys
from typing import Optional, Sequence

# name -> (module, one-line help)
SUBCOMMANDS = {
    'track': ('deepsort_ros.cli.track',
              'track a MOTChallenge-style sequence or a ROS 2 bag offline'),
    'detect': ('deepsort_ros.cli.detect',
               'run the stand-in people detector over a video into a MOTChallenge folder'),
    'bag-from-sequence': ('deepsort_ros.cli.bag_from_sequence',
                          'write a ROS 2 bag (images, camera info, detections, odometry) from '
                          'a MOTChallenge sequence or a video'),
    'play': ('deepsort_ros.cli.play', "publish a bag's topics at the recorded speed"),
    'rig': ('deepsort_ros.cli.rig',
            'write a two-camera rig cut out of PETS09-S2L1: one bag per camera, gt with global '
            'ids'),
    'fuse': ('deepsort_ros.cli.fuse',
             'track several camera bags and fuse them into global identities, offline; score '
             'a rig'),
    'train-reid': ('deepsort_ros.cli.train_reid',
                   'train or fine-tune the Re-ID encoder on MOTChallenge-style sequences'),
    'export-reid': ('deepsort_ros.cli.export_reid',
                    'export Re-ID weights to ONNX, optionally quantised to int8'),
}


class HelpWithDefaults(argparse.ArgumentDefaultsHelpFormatter):
    """Show every option's default: argparse's, or the help's own words where it names one."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ''
        # A default of None means "worked out at run time": the help says how, in words.
        if 'default' in text or action.default is None or action.required:
            return text
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    """
    Build the parser with every sub-command.

    Returns
    -------
    argparse.ArgumentParser
        The top-level parser.

    """
    parser = argparse.ArgumentParser(
        prog='deepsort-ros', description='deepsort_ros command-line tools.',
        formatter_class=HelpWithDefaults)
    subparsers = parser.add_subparsers(dest='command', metavar='COMMAND')
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text,
                                    formatter_class=HelpWithDefaults)
        sub.set_defaults(_module=module_name)
        importlib.import_module(module_name).add_arguments(sub)
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
    module = importlib.import_module(args._module)
    try:
        return int(module.main(args) or 0)
    except ImportError as error:
        print(f'deepsort-ros {args.command}: cannot import {error.name or error}: {error}. '
              'Run ./dev.sh setup to (re)install the environment, then source scripts/env.sh.',
              file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
