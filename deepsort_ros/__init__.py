"""deepsort_ros: a DeepSORT multi-object tracker for ROS 2 robots."""

__version__ = '0.1.0'
