"""
Recorded data in and out: MOTChallenge text files and ROS 2 bags.

``mot`` reads sequences (seqinfo.ini, det.txt, gt.txt, frames) and writes results;
``bag_reader`` / ``bag_writer`` / ``typestore`` read and write bags with rosbags (tolerating
damaged ones); ``bag_player`` publishes a bag over DDS; ``sequence_to_bag`` makes the messages
a robot would record from a sequence or a video.
"""
