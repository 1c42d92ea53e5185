"""Fully populated sample messages, built alike in the publishing and the testing process."""

from deepsort_ros_msgs.msg import Track, TrackArray
from vision_msgs.msg import BoundingBox2D, Detection2D, Detection2DArray, ObjectHypothesisWithPose


def sample_track_array() -> TrackArray:
    """Return a TrackArray whose every field differs from its default."""
    msg = TrackArray()
    msg.header.stamp.sec = 1700000000
    msg.header.stamp.nanosec = 123456789
    msg.header.frame_id = 'camera_optical_frame'
    msg.world_frame_id = 'odom'
    msg.target_index = 1
    for i in range(3):
        track = Track()
        track.id = 7 + i
        track.uuid.uuid = list(range(i, i + 16))
        track.class_id = 'person'
        track.score = 0.5 + 0.125 * i  # exact in float32
        track.existence_probability = 0.75
        track.state = Track.STATE_COASTING if i == 2 else Track.STATE_CONFIRMED
        track.age = 30 + i
        track.hits = 20 + i
        track.time_since_update = 0.25 * i
        track.center_x, track.center_y = 100.5 + i, 200.25 + i
        track.size_x, track.size_y = 40.0, 90.0 + i
        track.velocity_x, track.velocity_y = -3.5, 1.25
        track.velocity_size_x, track.velocity_size_y = 0.5, -0.5
        track.image_covariance = [float(k + i) for k in range(64)]
        track.detection_index = -1 if i == 2 else i
        track.is_occluded = i == 2
        track.world_valid = True
        track.pose.pose.position.x = 1.0 + i
        track.pose.pose.position.y = -2.0
        track.pose.covariance = [0.01 * k for k in range(36)]
        track.twist.twist.linear.x = 0.7
        track.twist.covariance = [0.02 * k for k in range(36)]
        msg.tracks.append(track)
    return msg


def sample_detection_array() -> Detection2DArray:
    """Return a Detection2DArray with two detections, every field set."""
    msg = Detection2DArray()
    msg.header.stamp.sec = 1700000001
    msg.header.stamp.nanosec = 5
    msg.header.frame_id = 'camera_optical_frame'
    for i in range(2):
        det = Detection2D()
        det.header = msg.header
        det.bbox = BoundingBox2D()
        det.bbox.center.position.x = 320.0 + i
        det.bbox.center.position.y = 240.0
        det.bbox.center.theta = 0.0
        det.bbox.size_x, det.bbox.size_y = 50.0, 120.0
        hyp = ObjectHypothesisWithPose()
        hyp.hypothesis.class_id = 'person'
        hyp.hypothesis.score = 0.875
        hyp.pose.pose.position.z = 4.5
        det.results.append(hyp)
        det.id = f'det-{i}'
        msg.detections.append(det)
    return msg


SAMPLES = {
    'track_array': (TrackArray, sample_track_array),
    'detection_array': (Detection2DArray, sample_detection_array),
}
