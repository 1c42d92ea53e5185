"""
``deepsort-ros fuse``: several cameras' bags fused into global identities, offline.

``--rig DIR`` takes a rig written by ``deepsort-ros rig`` (its cameras' bags, topics, mounts
and gt from ``rig.yaml``) and scores the result; ``--bag NAME=BAG`` (repeated) takes any bags,
one per camera: camera input (tracked with ``--params-file``, the tracker's) or recorded
``TrackArray`` / ``TrackAppearanceArray`` topics. The fusion is the node's, configured from
``--fusion-params`` (config/fusion.yaml format). See :mod:`deepsort_ros.replay.fusion`.
"""

import argparse
import json
from pathlib import Path
import sys
from typing import Dict, List

from deepsort_ros.cli.options import add_encoder_options, node_configs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """
    Add the ``fuse`` options to a parser.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The sub-command's parser.

    """
    inputs = parser.add_mutually_exclusive_group(required=True)
    inputs.add_argument('--rig', type=Path, metavar='DIR',
                        help='a rig folder from deepsort-ros rig (rig.yaml, bags, gt): scored')
    inputs.add_argument('--bag', action='append', metavar='NAME=BAG',
                        help='one camera: its name and bag (repeat per camera)')
    parser.add_argument('--out', type=Path, required=True, metavar='DIR',
                        help='folder for <camera>.txt (global ids), <camera>_local.txt, the '
                        'global_tracks bag and report.json')
    parser.add_argument('--params-file', type=Path, metavar='YAML',
                        help="the tracker's parameters file (config/deepsort.yaml format; "
                        "default: the node's defaults)")
    parser.add_argument('--fusion-params', type=Path, metavar='YAML',
                        help="the fusion node's parameters file (config/fusion.yaml format); "
                        "its cameras are replaced by the bags' (default: the fusion node's "
                        'defaults)')
    parser.add_argument('--reid-weights', metavar='PATH',
                        help="Re-ID weights for the trackers, or 'default' for the built-in "
                        "model (overrides encoder_weights; default: the params file's)")
    add_encoder_options(parser)
    parser.add_argument('--no-appearance', action='store_true',
                        help='track and fuse on motion only (use_appearance false)')
    parser.add_argument('--no-arrival-time', action='store_true',
                        help="trust the stamps (use_arrival_time false) instead of the bags' "
                        'log times')
    parser.add_argument('--overwrite', action='store_true', help='replace existing outputs')
    parser.add_argument('--no-progress', action='store_true', help='hide the progress bars')


def _cameras(args: argparse.Namespace) -> Dict[str, Path]:
    cameras: Dict[str, Path] = {}
    for item in args.bag or []:
        name, sep, path = item.partition('=')
        if not sep or not name or not path:
            raise ValueError(f'--bag {item!r}: expected NAME=BAG')
        if name in cameras:
            raise ValueError(f'--bag: camera {name!r} given twice')
        cameras[name] = Path(path)
    return cameras


def main(args: argparse.Namespace) -> int:
    """
    Run ``deepsort-ros fuse``.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options (see :func:`add_arguments`).

    Returns
    -------
    int
        0 on success, 1 when nothing could be fused, 2 on bad input.

    """
    from deepsort_ros.replay import fusion as replay
    from deepsort_ros.settings import fusion as fp
    from deepsort_ros.pipeline.fusion import FusionPipeline
    from deepsort_ros.pipeline.encoder import load_encoder

    try:
        manifest = None
        if args.rig is not None:
            from deepsort_ros.recordings.rig import read_manifest

            manifest = read_manifest(args.rig)
            cameras = {c.name: args.rig / c.bag for c in manifest.cameras}
        else:
            cameras = _cameras(args)
        node_config, tracker_config = node_configs(args)
        fusion_values = fp.load_params_file(args.fusion_params) if args.fusion_params else {}
        fusion_values = {k: v for k, v in fusion_values.items()
                         if k != 'cameras' and not k.startswith(fp.CAMERA_PREFIX)}
        fusion_values['cameras'] = list(cameras)
        if args.no_arrival_time:
            fusion_values['use_arrival_time'] = False
        if manifest is not None and not fusion_values.get('world_frame_id'):
            fusion_values['world_frame_id'] = manifest.world_frame
        fusion_node, inputs, fusion_config = fp.split_parameters(fusion_values)
        configs = replay.rig_camera_configs(manifest, node_config) if manifest is not None \
            else dict.fromkeys(cameras, node_config)
        encoder, name, device = load_encoder(node_config, live=False)
        print(f'deepsort-ros fuse: Re-ID encoder {name} on {device}', file=sys.stderr)
        updates: Dict[str, List[replay.CameraUpdate]] = {}
        for camera, bag in cameras.items():
            updates[camera] = replay.camera_updates(camera, bag, configs[camera], tracker_config,
                                                    encoder, not args.no_progress)
            print(f'deepsort-ros fuse: {camera}: {len(updates[camera])} frames from {bag}',
                  file=sys.stderr)
        if not any(updates.values()):
            print('deepsort-ros fuse: no camera frame to fuse', file=sys.stderr)
            return 1
        pipeline = FusionPipeline(fusion_node, inputs, fusion_config)
        frame_of = manifest.frame_of if manifest is not None else replay.frame_numbers(updates)
        result = replay.fuse_updates(updates, pipeline, frame_of)
        if manifest is not None:
            gt = manifest.gt_rows()
            if gt:
                replay.score(result, gt, manifest.frame_rate)
        written = replay.write_outputs(result, args.out, args.overwrite)
    except (OSError, ValueError, RuntimeError) as error:
        print(f'deepsort-ros fuse: {error}', file=sys.stderr)
        return 2
    report = {'cameras': {c: str(p) for c, p in cameras.items()}, 'updates': result.updates,
              'associations': pipeline.fusion.counters.associations,
              'new_global_ids': pipeline.fusion.counters.new_globals,
              'merges': pipeline.fusion.counters.merges,
              'refused': {n: dict(c.refused) for n, c in
                          pipeline.fusion.counters.cameras.items()},
              'appearance_bytes_per_frame': {
                  n: (sum(s) / len(s) if s else 0.0) for n, s in result.appearance_bytes.items()},
              'scores': result.scores}
    (args.out / 'report.json').write_text(json.dumps(report, indent=2) + '\n')
    print('\n'.join(replay.summary_lines(result)))
    print(f'wrote {", ".join(str(p) for p in written)}, {args.out / "report.json"}')
    return 0
