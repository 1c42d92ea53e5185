"""
The cameras the fusion hears from: who owns a name, their clocks, their local-id bindings.

A camera is known by its name. The first sender (``source_id``) of a name owns it; another
sender under the same name is refused while the owner is live, and takes over once the owner
has been stale for ``camera_timeout`` (a restarted tracker gets a new source id). Each camera
keeps the map from its local track ids to global ids.
"""

from dataclasses import dataclass, field
import math
from typing import Dict, List, Optional

from deepsort_ros.fusion.config import FusionConfig


@dataclass
class CameraStatus:
    """
    One camera as the fusion knows it.

    Attributes
    ----------
    name : str
    index : int
        Column of this camera in the global table's per-camera arrays.
    source_id : str
        The sender that owns the name.
    last_stamp : float or None
        Stamp of the last update taken (the camera's clock).
    last_fusion_time : float or None
        Fusion time when that update was taken.
    stale : bool
        Silent for ``camera_timeout``; bindings released.
    ahead_since : float or None
        Stamp of the first update of a run refused as ahead of the fusion's time (no arrival
        times given), while that time stood at ``ahead_fusion_time``.
    ahead_fusion_time : float or None
    bindings : dict of int to int
        Local track id -> global id.

    """

    name: str
    index: int
    source_id: str = ''
    last_stamp: Optional[float] = None
    last_fusion_time: Optional[float] = None
    stale: bool = False
    ahead_since: Optional[float] = None
    ahead_fusion_time: Optional[float] = None
    bindings: Dict[int, int] = field(default_factory=dict)


class CameraRegistry:
    """
    Every camera by name, with the checks that admit or refuse one update.

    Parameters
    ----------
    config : FusionConfig

    """

    def __init__(self, config: FusionConfig) -> None:
        self.config = config
        self.cameras: Dict[str, CameraStatus] = {}

    def __len__(self) -> int:
        """Return the number of cameras heard of."""
        return len(self.cameras)

    def get_or_add(self, name: str, source_id: str) -> CameraStatus:
        """Return the status of ``name``, registering it (owned by ``source_id``) if new."""
        status = self.cameras.get(name)
        if status is None:
            status = self.cameras[name] = CameraStatus(name, len(self.cameras), source_id)
        return status

    def admit(self, status: CameraStatus, stamp_s: float, source_id: str,
              fusion_time: Optional[float], received_s: Optional[float]) -> Optional[str]:
        """
        Decide whether one update of a camera can be taken.

        Parameters
        ----------
        status : CameraStatus
            The camera the update names.
        stamp_s : float
            The update's stamp, seconds.
        source_id : str
            Its sender.
        fusion_time : float or None
            The fusion's time (latest stamp taken from any camera); None before the first.
        received_s : float or None
            When the update arrived, in the fusion's clock; None when unknown.

        Returns
        -------
        str or None
            The refusal reason (see :data:`~deepsort_ros.fusion.counters.UPDATE_REFUSALS`),
            or None when the update can be taken. Another sender than the owner is refused
            while the owner is live; once the owner is stale it is admitted, and the caller
            hands the camera over to it.

        """
        cfg = self.config
        if not math.isfinite(stamp_s) or (received_s is not None and
                                          not math.isfinite(received_s)):
            return 'bad_stamp'
        if source_id != status.source_id:
            if not status.stale and status.last_stamp is not None:
                return 'duplicate_name'
        if received_s is not None and stamp_s - received_s > cfg.max_clock_ahead:
            return 'clock_ahead'
        if received_s is None and fusion_time is not None and \
                stamp_s - fusion_time > cfg.max_clock_ahead and \
                not self._resynchronise(status, stamp_s, fusion_time):
            return 'clock_ahead'
        if fusion_time is not None and fusion_time - stamp_s > cfg.max_delay:
            return 'too_late'
        if received_s is not None and received_s - stamp_s > cfg.max_delay:
            return 'too_late'
        if source_id == status.source_id and status.last_stamp is not None \
                and stamp_s < status.last_stamp:
            return 'stamp_backwards'
        return None

    def _resynchronise(self, status: CameraStatus, stamp_s: float, fusion_time: float) -> bool:
        """
        Decide whether input ahead of the fusion's time is taken after all.

        Without arrival times the stamps are the only clock: input far ahead is refused while
        other cameras keep the fusion's time going (that camera's clock is off), but when
        nothing else moves it for ``camera_timeout`` of the ahead camera's own stamps (every
        camera paused, or the others stopped) the fusion follows it.
        """
        if status.ahead_since is None or status.ahead_fusion_time != fusion_time:
            status.ahead_since = stamp_s
            status.ahead_fusion_time = fusion_time
            return False
        if stamp_s - status.ahead_since < self.config.camera_timeout:
            return False
        status.ahead_since = status.ahead_fusion_time = None
        return True

    def stale_cameras(self, fusion_time: float) -> List[CameraStatus]:
        """Return the live cameras silent for ``camera_timeout`` at ``fusion_time``."""
        timeout = self.config.camera_timeout
        return [c for c in self.cameras.values()
                if not c.stale and c.last_fusion_time is not None
                and c.last_stamp is not None and fusion_time - c.last_stamp > timeout]
