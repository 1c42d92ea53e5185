"""
Messages to arrays and back, one module per message family; message packages yes, rclpy never.

``stamps`` (time and headers), ``camera`` (``CameraInfo`` and the pinhole model), ``odometry``
(odometry and transforms as poses), ``detections`` (``Detection2DArray`` and yolo_ros's array),
``tracks`` (``TrackArray``, ``TargetStatus``, MOTChallenge rows), ``appearances``
(``TrackAppearanceArray``), ``global_tracks`` (the fusion's camera tracks in, global tracks
out), ``diagnostics`` (``DiagnosticArray``), ``images`` (``Image``, ``CompressedImage``).

Reading takes any object with the fields of the ROS messages (rclpy classes, and rosbags'
deserialised messages for the offline tools), and says why a message cannot be used rather
than passing bad values on; building makes rclpy message objects, which need no running ROS.
Nothing here imports rclpy, so the pipelines, the bag tools and the detectors use these
modules offline. Nothing is re-exported: import the module of the family
(``from deepsort_ros.ros.convert.tracks import tracks_to_msg``), so that a change to one
message touches only its importers.
"""
