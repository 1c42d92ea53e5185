"""
The rclpy toolkit both nodes share.

``parameters``: a settings schema (``deepsort_ros.settings``) as ROS parameters, with
descriptors, validated on every set. ``throttle``: the throttled log that counts what it
suppressed. ``lifecycle``: the one ``main`` that spins a node until Ctrl-C. ``services``:
``~/reset``. ``executor``: rclpy's ``MultiThreadedExecutor`` without its queueing storm.

May import: rclpy, message packages, ``deepsort_ros.settings`` and the ROS-free rooms. Not
the nodes (``ros.tracker``, ``ros.track_fusion``); only they import it.
"""
