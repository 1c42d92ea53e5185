"""
The ROS 2 room: only what needs rclpy or message types.

``tracker`` and ``track_fusion`` are the two nodes, one sub-room each; ``common`` is the
rclpy toolkit they share (parameters from the settings schema, the throttled log, the
lifecycle ``main``, ``~/reset``, the executor). ``convert`` (messages <-> arrays, one module
per message family: the one seam between messages and the core's arrays) and ``display``
(RViz markers, the annotated image) import message packages but never rclpy. What runs
without ROS lives beside this room: ``deepsort_ros.pipeline`` (the nodes' pipelines, pairing,
odometry guard, diagnostics) and ``deepsort_ros.settings`` (every parameter, declared once).
"""
