"""
A camera rig on disk: one bag per camera, gt with global ids, and the manifest that ties them.

:func:`write_rig` cuts a MOTChallenge sequence (PETS09-S2L1: the rig's camera is fitted to it)
into the cameras of a layout of :mod:`deepsort_ros.sim.camera_rig` (``overlap`` or ``gap``)
and writes, under one folder::

    rig.yaml          the manifest (:class:`RigManifest`): layout, frame rate, first stamp,
                      per camera its bag, gt, size, K, extrinsic, dropped frames, latency,
                      topics and frames
    <camera>/         its bag: images, camera info, detections (det.txt warped), odometry
                      (position and orientation), recorded ``latency_s`` after their stamps
    gt/<camera>.txt   gt.txt warped into its view (MOTChallenge rows, frames as the
                      sequence's, ids PETS09's: global across cameras)

``deepsort-ros rig`` (:mod:`deepsort_ros.cli.rig`) runs it; ``deepsort-ros fuse --rig``
(:mod:`deepsort_ros.replay.fusion`) reads it back, tracks each bag and scores the fusion.
"""

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from deepsort_ros.recordings.mot import load_mot_rows, read_sequence_info
import numpy as np
import yaml

MANIFEST = 'rig.yaml'
LAYOUTS = ('overlap', 'gap')


@dataclass
class RigCameraEntry:
    """
    One camera of a rig on disk.

    Attributes
    ----------
    name : str
    bag : str
        Its bag folder, relative to the rig folder.
    gt : str
        Its gt file, relative to the rig folder ('' without gt).
    width, height : int
    intrinsics : list of 9 float
        K, row-major.
    base_to_camera_xyz, base_to_camera_rpy : list of 3 float
        The extrinsic, as the tracker node's parameters.
    drop_every : int
    latency_s : float
    topics : dict of str to str
        ``image`` (raw images there, jpeg on ``<image>/compressed``), ``camera_info``,
        ``detections``, ``odometry``.
    frame_id : str
        Its optical frame.
    image_transport : str
        ``raw`` or ``compressed``, as the tracker node's parameter.

    """

    name: str
    bag: str
    gt: str
    width: int
    height: int
    intrinsics: List[float]
    base_to_camera_xyz: List[float]
    base_to_camera_rpy: List[float]
    drop_every: int
    latency_s: float
    topics: Dict[str, str]
    frame_id: str
    image_transport: str = 'raw'


@dataclass
class RigManifest:
    """
    What ``rig.yaml`` holds.

    Attributes
    ----------
    layout : str
    sequence : str
        The sequence it was cut from.
    frame_rate : float
    start_ns : int
        Stamp of frame 1; frame k is stamped ``start_ns + (k - 1) / frame_rate``.
    frames : int
        Frames of the sequence used.
    world_frame : str
        The frame every camera's odometry is in.
    cameras : list of RigCameraEntry
    directory : Path
        Where it was read from (not written).

    """

    layout: str
    sequence: str
    frame_rate: float
    start_ns: int
    frames: int
    world_frame: str
    cameras: List[RigCameraEntry] = field(default_factory=list)
    directory: Optional[Path] = None

    def frame_of(self, stamp_ns: int) -> int:
        """Return the 1-based sequence frame of a stamp."""
        return int(round((stamp_ns - self.start_ns) * 1e-9 * self.frame_rate)) + 1

    def camera(self, name: str) -> RigCameraEntry:
        """Return the entry of camera ``name``."""
        for entry in self.cameras:
            if entry.name == name:
                return entry
        raise KeyError(f'the rig has no camera {name!r} (it has {self.names})')

    @property
    def names(self) -> List[str]:
        """Return the camera names, in order."""
        return [c.name for c in self.cameras]

    def gt_rows(self) -> Dict[str, np.ndarray]:
        """Return each camera's gt rows (global ids), by name."""
        return {c.name: load_mot_rows(self.directory / c.gt) for c in self.cameras if c.gt}


def read_manifest(directory: Path) -> RigManifest:
    """
    Read a rig folder's ``rig.yaml``.

    Raises
    ------
    ValueError
        When it is missing or malformed (the message says which).

    """
    directory = Path(directory)
    path = directory / MANIFEST
    if not path.is_file():
        raise ValueError(f'{directory} is not a rig folder: no {MANIFEST} (make one with '
                         'deepsort-ros rig)')
    try:
        document = yaml.safe_load(path.read_text())
        cameras = [RigCameraEntry(**c) for c in document.pop('cameras')]
        return RigManifest(cameras=cameras, directory=directory, **document)
    except (yaml.YAMLError, TypeError, KeyError, AttributeError) as error:
        raise ValueError(f'{path} is malformed: {error}') from None


def write_rig(sequence: Path, layout: str, out: Path, compressed: bool = False,
              jpeg_quality: int = 95, max_frames: Optional[int] = None,
              overwrite: bool = False, progress: bool = True,
              moving: bool = True) -> RigManifest:
    """
    Write a rig of a sequence: one bag per camera, gt per camera, ``rig.yaml``.

    Parameters
    ----------
    sequence : Path
        MOTChallenge folder (PETS09-S2L1: the rig's camera is fitted to it), with det.txt and,
        for gt, gt/gt.txt.
    layout : str
        ``overlap`` or ``gap``.
    out : Path
        Folder to create (or to fill again with ``overwrite``).
    compressed : bool
        Images as jpeg (``CompressedImage``), ~10x smaller bags.
    jpeg_quality : int
        Of the jpeg images.
    max_frames : int, optional
        Use only the first frames of the sequence.
    overwrite : bool
        Replace existing bags.
    progress : bool
        Progress bars.
    moving : bool
        Give the cameras their rotation profiles (else they stay still).

    Returns
    -------
    RigManifest

    """
    from deepsort_ros.recordings.sequence_to_bag import (MessageOptions, RIG_WORLD_FRAME,
                                                         SequenceSource, START_EPOCH_NS,
                                                         write_sequence_bag)
    from deepsort_ros.sim.camera_rig import gap_rig, overlap_rig

    if layout not in LAYOUTS:
        raise ValueError(f'layout must be one of {LAYOUTS}, got {layout!r}')
    out = Path(out)
    info = read_sequence_info(sequence)
    source = SequenceSource.from_sequence(sequence)
    rig = (overlap_rig if layout == 'overlap' else gap_rig)(moving)
    gt_path = Path(sequence) / 'gt' / 'gt.txt'
    gt = load_mot_rows(gt_path) if gt_path.is_file() else None
    frames = min(info.length, max_frames) if max_frames else info.length
    out.mkdir(parents=True, exist_ok=True)
    manifest = RigManifest(layout, str(Path(sequence).resolve()), float(source.fps),
                           START_EPOCH_NS, int(frames), RIG_WORLD_FRAME, directory=out)
    for name, view in rig.views.items():
        options = MessageOptions.for_view(view, compressed=compressed,
                                          jpeg_quality=jpeg_quality, max_frames=max_frames,
                                          latency_s=view.latency_s)
        write_sequence_bag(source, options, out / name, overwrite=overwrite, progress=progress)
        gt_file = ''
        if gt is not None:
            rows = view.warp_rows(gt[gt[:, 0] <= frames], source.fps)
            gt_file = f'gt/{name}.txt'
            (out / 'gt').mkdir(exist_ok=True)
            np.savetxt(out / gt_file, rows, fmt='%g', delimiter=',')
        topics = options.topics
        manifest.cameras.append(RigCameraEntry(
            name, name, gt_file, view.width, view.height,
            [float(v) for v in view.intrinsics.reshape(9)],
            [float(v) for v in view.base_to_camera.translation],
            list(view.base_to_camera_rpy), view.drop_every, view.latency_s,
            {'image': topics.image, 'camera_info': topics.camera_info,
             'detections': topics.detections, 'odometry': topics.odometry}, options.frame_id,
            'compressed' if compressed else 'raw'))
    document: Dict[str, Any] = asdict(manifest)
    document.pop('directory')
    (out / MANIFEST).write_text(yaml.safe_dump(document, sort_keys=False))
    return manifest
