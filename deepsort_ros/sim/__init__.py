"""
Made-up inputs with known answers: synthetic scenes and virtual moving cameras.

``synthetic.make_scene`` makes objects, occlusions, detections and features with ground
truth; ``virtual_camera`` turns a static sequence into moving-camera footage (frames,
detections and gt warped by the rotation's homography, with the odometry that goes with it);
``ground_camera`` is PETS09's recorded camera fitted to its world ground truth, and
``camera_rig`` cuts it into several moving cameras with consistent world poses
(``depth_scene`` renders a depth image of it).
"""
