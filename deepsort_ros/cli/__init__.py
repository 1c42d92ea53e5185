"""
The command-line tools, one module per ``deepsort-ros`` sub-command.

Each module defines ``add_arguments(parser)``, which needs nothing but ``argparse``, and
``main(args) -> int``, which imports what its job needs when it runs: building the parser of
every sub-command never loads torch, rclpy, OpenCV or rosbags. ``options`` holds what the
sub-commands running the node's pipeline offline (``track --bag``, ``fuse``) share.
"""
