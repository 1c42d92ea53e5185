"""
The nodes' parameters, ROS-free: one schema, two node configs.

``schema`` is the one implementation of a parameter declaration (default, description, range,
choices, read-only), of its validation, of reading a core config's descriptions from its
docstring and of reading a ROS 2 parameters YAML file. ``tracker`` (``NodeConfig`` and the
core's ``TrackerConfig`` as ``tracker.*``) and ``fusion`` (``FusionNodeConfig``, the cameras'
``camera.<name>.*`` and ``FusionConfig`` as ``fusion.*``) are written in it. The nodes
declare them through ``deepsort_ros.ros.common.parameters``; the offline runners read the
same files.

May import: the ROS-free rooms whose configs it exposes (core, fusion, geometry, world) and
PyYAML. Never rclpy, message packages or anything under ``deepsort_ros.ros``.
"""
