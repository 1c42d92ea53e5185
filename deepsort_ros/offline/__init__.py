"""
Offline tools around the tracker core: MOTChallenge sequences, the ``track`` command, scoring.

``mot_sequence`` reads seqinfo.ini / det.txt / frames and writes results, ``evaluation`` scores
results (TrackEval HOTA, py-motmetrics IDF1 / MOTA), ``synthetic`` generates test scenes and
``track_command`` is ``deepsort-ros track``. Nothing here imports rclpy.
"""
