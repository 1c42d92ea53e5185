"""Install the stand-in hog_detector package, its model file and its node executable."""

from setuptools import setup

package_name = 'hog_detector'

setup(
    name=package_name,
    version='0.1.0',
    packages=[package_name],
    package_data={package_name: ['person_model.npz']},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
    ],
    install_requires=['setuptools'],
    zip_safe=False,
    maintainer='deepsort_ros maintainers',
    maintainer_email='maintainers@deepsort-ros.dev',
    description='A stand-in HOG people detector publishing vision_msgs/Detection2DArray.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'hog_detector = hog_detector.node:main',
        ],
    },
)
