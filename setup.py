"""Install the deepsort_ros Python package, its launch and config files, and its executables."""

from glob import glob

from setuptools import find_packages, setup

package_name = 'deepsort_ros'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(include=[package_name, package_name + '.*']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        ('share/' + package_name + '/launch', glob('launch/*.launch.py')),
        ('share/' + package_name + '/config', glob('config/*.yaml') + glob('config/*.xml')),
        ('share/' + package_name + '/rviz', glob('rviz/*.rviz')),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='deepsort_ros maintainers',
    maintainer_email='maintainers@deepsort-ros.dev',
    description='DeepSORT multi-object tracking for ROS 2 robots.',
    license='Apache-2.0',
    # Small scripts instead of console_scripts entry points: started without the environment
    # sourced, an entry point dies in importlib.metadata; these say what to source.
    scripts=['bin/tracker_node', 'bin/track_fusion', 'bin/deepsort-ros'],
)
