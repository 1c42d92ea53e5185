"""
yolo_ros's detector feeding the tracker: ``ros2 launch deepsort_ros yolo_tracker.launch.py``.

Starts yolo_ros (``yolo_bringup``'s ``yolo.launch.py``, when ``start_yolo`` is true) on the
camera image, and the tracker on the same image with ``detections_type: yolo_msgs`` reading
yolo_ros's ``yolo_msgs/DetectionArray``. yolo_ros is installed separately (its README);
``start_yolo:=false`` wires the tracker alone to a yolo_ros that already runs.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription, SetEnvironmentVariable
from launch.conditions import IfCondition
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import EnvironmentVariable, LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare


def generate_launch_description() -> LaunchDescription:
    """Describe yolo_ros and the tracker reading its detections."""
    share = get_package_share_directory('deepsort_ros')
    dds_profile = EnvironmentVariable(
        'FASTDDS_DEFAULT_PROFILES_FILE',
        default_value=os.path.join(share, 'config', 'fastdds_large_data.xml'))
    yolo = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(
            PathJoinSubstitution([FindPackageShare('yolo_bringup'), 'launch', 'yolo.launch.py'])),
        launch_arguments={'model': LaunchConfiguration('model'),
                          'device': LaunchConfiguration('device'),
                          'input_image_topic': LaunchConfiguration('image')}.items(),
        condition=IfCondition(LaunchConfiguration('start_yolo')))
    return LaunchDescription([
        SetEnvironmentVariable('FASTDDS_DEFAULT_PROFILES_FILE', dds_profile),
        DeclareLaunchArgument('image', default_value='/camera/rgb/image_raw',
                              description='sensor_msgs/Image topic both nodes read'),
        DeclareLaunchArgument('yolo_detections', default_value='/yolo/detections',
                              description="yolo_ros's yolo_msgs/DetectionArray topic"),
        DeclareLaunchArgument('start_yolo', default_value='true',
                              description='also start yolo_ros (yolo_bringup)'),
        DeclareLaunchArgument('model', default_value='yolov8m.pt',
                              description="yolo_ros's model"),
        DeclareLaunchArgument('device', default_value='cuda:0',
                              description="yolo_ros's device (cpu on a robot without a GPU)"),
        DeclareLaunchArgument('params_file',
                              default_value=os.path.join(share, 'config', 'deepsort.yaml'),
                              description='YAML file with the tracker parameters'),
        yolo,
        Node(
            package='deepsort_ros',
            executable='tracker_node',
            name='deepsort_tracker',
            output='screen',
            parameters=[LaunchConfiguration('params_file'), {'detections_type': 'yolo_msgs'}],
            remappings=[('image', LaunchConfiguration('image')),
                        ('detections', LaunchConfiguration('yolo_detections'))],
        ),
    ])
