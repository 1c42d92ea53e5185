"""
ROS 2 bag tools: make bags from MOTChallenge sequences, read them, play them, record results.

One module per job: ``typestore`` (rosbags types and rclpy classes), ``writer``, ``reader``,
``from_sequence`` (``deepsort-ros bag-from-sequence``) and ``play`` (``deepsort-ros play``).
Modules are imported on use; this package imports nothing heavy.
"""
