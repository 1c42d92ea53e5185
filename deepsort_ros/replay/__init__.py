"""
Tracking recorded data: the core on MOTChallenge sequences, the node's pipeline on bags.

``sequence.run_sequence`` feeds det.txt (and an encoder or precomputed features) to the core;
``bag.track_bag`` feeds a bag's messages to
:class:`deepsort_ros.pipeline.tracking.TrackingPipeline`, the very code the node runs.
"""
