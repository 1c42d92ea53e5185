"""Start the deepsort_ros tracker node with config/deepsort.yaml and standard remappings."""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, SetEnvironmentVariable
from launch.conditions import IfCondition
from launch.substitutions import EnvironmentVariable, LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue


def generate_launch_description() -> LaunchDescription:
    """Describe the tracker node, its parameters file and its remappings."""
    share = get_package_share_directory('deepsort_ros')
    default_params = os.path.join(share, 'config', 'deepsort.yaml')
    rviz_config = os.path.join(share, 'rviz', 'deepsort.rviz')
    # Fast DDS's default shared-memory segment (512 KB) loses camera images and the messages
    # beside them; keep a profile the user chose, else use ours (config/fastdds_large_data.xml).
    dds_profile = EnvironmentVariable(
        'FASTDDS_DEFAULT_PROFILES_FILE',
        default_value=os.path.join(share, 'config', 'fastdds_large_data.xml'))
    return LaunchDescription([
        SetEnvironmentVariable('FASTDDS_DEFAULT_PROFILES_FILE', dds_profile),
        DeclareLaunchArgument('params_file', default_value=default_params,
                              description='YAML file with the tracker parameters'),
        DeclareLaunchArgument('image', default_value='/camera/image_raw',
                              description='sensor_msgs/Image topic'),
        DeclareLaunchArgument('detections', default_value='/detections',
                              description='vision_msgs/Detection2DArray topic'),
        DeclareLaunchArgument('camera_info', default_value='/camera/camera_info',
                              description='sensor_msgs/CameraInfo topic'),
        DeclareLaunchArgument('odom', default_value='/odom',
                              description='nav_msgs/Odometry topic'),
        DeclareLaunchArgument('tracks', default_value='~/tracks',
                              description='deepsort_ros_msgs/TrackArray output topic'),
        DeclareLaunchArgument('namespace', default_value='',
                              description='namespace of the node (one per camera)'),
        DeclareLaunchArgument('use_sim_time', default_value='false',
                              description='follow /clock (a bag played with --clock)'),
        DeclareLaunchArgument('rviz', default_value='false',
                              description='also start rviz2 with rviz/deepsort.rviz (annotated '
                              'image, track markers, fusion markers)'),
        DeclareLaunchArgument('rviz_fixed_frame', default_value='odom',
                              description="rviz2's fixed frame: the tracks' world frame"),
        Node(
            package='deepsort_ros',
            executable='tracker_node',
            name='deepsort_tracker',
            namespace=LaunchConfiguration('namespace'),
            output='screen',
            parameters=[LaunchConfiguration('params_file'),
                        {'use_sim_time': ParameterValue(LaunchConfiguration('use_sim_time'),
                                                        value_type=bool)}],
            remappings=[
                ('image', LaunchConfiguration('image')),
                ('detections', LaunchConfiguration('detections')),
                ('camera_info', LaunchConfiguration('camera_info')),
                ('odom', LaunchConfiguration('odom')),
                ('~/tracks', LaunchConfiguration('tracks')),
            ],
        ),
        # In the tracker's namespace: the view's relative topics then name this tracker's.
        Node(
            package='rviz2',
            executable='rviz2',
            name='rviz2',
            namespace=LaunchConfiguration('namespace'),
            arguments=['-d', rviz_config, '-f', LaunchConfiguration('rviz_fixed_frame')],
            parameters=[{'use_sim_time': ParameterValue(LaunchConfiguration('use_sim_time'),
                                                        value_type=bool)}],
            condition=IfCondition(LaunchConfiguration('rviz')),
        ),
    ])
