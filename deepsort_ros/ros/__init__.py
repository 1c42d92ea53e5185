"""
The ROS 2 layer, the only part of the package that imports rclpy and message types.

``tracker_node`` is thin: its callbacks hand messages to ``pipeline.TrackingPipeline``, which
pairs them (``pairing``), converts them (``convert``, one module per message family, the
seam between messages and the core's arrays), runs ego-motion, the encoder and the tracker,
and builds the outputs. ``parameters`` declares and validates every parameter once,
``diagnostics`` gathers every counter, ``display`` draws images and RViz markers.
"""
