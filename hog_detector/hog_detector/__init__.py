"""
The stand-in people detector: HOG + a linear classifier, and its ROS node.

A placeholder so that the tracker runs end to end without a neural network; replace it with
your own detector publishing ``vision_msgs/Detection2DArray``.
"""
