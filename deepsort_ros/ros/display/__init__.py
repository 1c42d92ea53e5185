"""
What a person looks at: RViz markers and the annotated image, from published messages only.

``markers`` builds the ``MarkerArray`` of world-frame tracks (a camera's and the fusion's),
``annotated_image`` draws a ``TrackArray`` on its image with OpenCV, ``colours`` gives each
identity the one colour both use. Message packages yes, rclpy never: the nodes call these,
and so can any viewer or offline tool.
"""
