"""
Appearances: the tracks' Re-ID features as ``deepsort_ros_msgs/TrackAppearanceArray``.

A tracker publishes them for the multi-camera fusion, which reads them back here; each entry
names its track by the UUID the ``TrackArray`` carries.
"""

import array
from typing import Any, List, NamedTuple, Sequence
import uuid

from deepsort_ros.ros.convert.stamps import stamp_to_ns
from deepsort_ros.ros.convert.tracks import identity_uuid, uuid_bytes
from deepsort_ros_msgs.msg import TrackAppearance, TrackAppearanceArray
import numpy as np
import numpy.typing as npt


def appearances_to_msg(header: Any, source_id: uuid.UUID, encoder: str, encoder_digest: str,
                       track_ids: Sequence[int], features: Sequence[npt.ArrayLike]
                       ) -> TrackAppearanceArray:
    """
    Build a ``deepsort_ros_msgs/TrackAppearanceArray`` of some tracks' features.

    Parameters
    ----------
    header : std_msgs/Header
        The header of the frame's ``TrackArray`` (stamp and optical frame).
    source_id : uuid.UUID
        The tracker run: the namespace of its track UUIDs.
    encoder : str
        The encoder's description.
    encoder_digest : str
        SHA-256 of its weights file, hex ('' unknown).
    track_ids : sequence of int
        N track ids; their UUIDs are those of ``TrackArray`` (:func:`identity_uuid`).
    features : sequence of array_like
        N features, (D,) each.

    """
    msg = TrackAppearanceArray(header=header, encoder=str(encoder),
                               encoder_digest=str(encoder_digest))
    msg.source_id.uuid = list(source_id.bytes)
    for track_id, feature in zip(track_ids, features):
        entry = TrackAppearance(id=int(track_id))
        entry.uuid.uuid = identity_uuid(source_id, track_id)
        values = array.array('f')
        values.frombytes(np.ascontiguousarray(feature, dtype=np.float32).reshape(-1).tobytes())
        entry.feature = values
        msg.appearances.append(entry)
    return msg


class TrackAppearances(NamedTuple):
    """
    The content of a ``TrackAppearanceArray``.

    Attributes
    ----------
    stamp_ns : int
    source_id : str
        The sending tracker run's UUID, hex.
    encoder : str
        What the fusion compares (:func:`deepsort_ros.fusion.appearance_feed.encoder_identity`).
    encoder_name : str
        The encoder's description, for logs.
    keys : list of bytes
        The tracks' UUIDs, N.
    features : list of ndarray of float32
        N features (of any lengths: checked by the fusion).

    """

    stamp_ns: int
    source_id: str
    encoder: str
    encoder_name: str
    keys: List[bytes]
    features: List[npt.NDArray[np.float32]]


def appearance_msg_to_arrays(msg: Any) -> TrackAppearances:
    """Read a ``deepsort_ros_msgs/TrackAppearanceArray``."""
    from deepsort_ros.fusion.appearance_feed import encoder_identity

    return TrackAppearances(
        stamp_to_ns(msg.header.stamp), uuid_bytes(msg.source_id).hex(),
        encoder_identity(msg.encoder, msg.encoder_digest), str(msg.encoder),
        [uuid_bytes(a.uuid) for a in msg.appearances],
        [np.asarray(a.feature, dtype=np.float32).reshape(-1) for a in msg.appearances])
