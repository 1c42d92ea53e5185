"""
The tracker node (``tracker_node``, node name ``deepsort_tracker``), one module per concern.

``node``: the lifecycle node, its callback groups and ``main``. ``outputs``: its publishers
and how a tracked frame goes out. ``target``: ``~/select_target`` and ``~/select_point``.
``extrinsic``: the camera extrinsic from TF. ``refusal``: a failed ``configure`` reported on
``/diagnostics``. The work between callbacks is :class:`deepsort_ros.pipeline.tracking.
TrackingPipeline`; the parameters are :mod:`deepsort_ros.settings.tracker`.

May import: rclpy, message packages, ``deepsort_ros.ros.common``, the conversions, and the
ROS-free rooms. Nothing outside the node rooms imports it.
"""
