"""
The nodes' pipelines, ROS-free: what a node does between its callbacks, runnable offline.

``tracking.TrackingPipeline`` is the tracker node's work for one camera: the input half
(clock gate, ``pairing`` of images with detections, the ``odometry_guard``, depth buffering)
and the processing half, ``process``, a list of named stages (``stages``): convert,
ego-motion, encode (the Re-ID model from ``encoder.load_encoder``), track, publish.
``fusion.FusionPipeline`` is the fusion node's. ``diagnostics`` and ``fusion_diagnostics``
turn their counters into reports. The nodes (``deepsort_ros.ros.tracker``,
``deepsort_ros.ros.track_fusion``) and the offline runners (``deepsort_ros.replay``,
``deepsort-ros track --bag``) call the same code.

May import: the ROS-free rooms (core, geometry, ego_motion, fusion, world, reid, settings)
and the message conversions (``deepsort_ros.ros.convert``, ``deepsort_ros.ros.display``),
which take and build message objects without rclpy. Never rclpy, nor the node rooms
(``deepsort_ros.ros.common``, ``ros.tracker``, ``ros.track_fusion``).
"""
