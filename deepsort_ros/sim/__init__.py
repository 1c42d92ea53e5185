"""
Made-up inputs with known answers: synthetic scenes and virtual moving cameras.

``synthetic.make_scene`` makes objects, occlusions, detections and features with ground
truth; ``virtual_camera`` turns a static sequence into moving-camera footage (frames,
detections and gt warped by the rotation's homography, with the odometry that goes with it).
"""
