"""
The multi-camera fusion node (``track_fusion``).

``node``: the lifecycle node and ``main``. The work between callbacks is
:class:`deepsort_ros.pipeline.fusion.FusionPipeline`; the parameters are
:mod:`deepsort_ros.settings.fusion`.

May import: rclpy, message packages, ``deepsort_ros.ros.common``, the conversions, and the
ROS-free rooms. Nothing outside the node rooms imports it.
"""
