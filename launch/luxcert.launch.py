"""Starts the luxcert node on a camera topic: ros2 launch luxcert_ros luxcert.launch.py bundle:=/path/to/bundle image:=/camera/image_raw"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare


def generate_launch_description():
    image = LaunchConfiguration('image')
    return LaunchDescription([
        DeclareLaunchArgument('bundle', description='bundle folder from luxcert export'),
        DeclareLaunchArgument('image', default_value='/camera/image_raw', description='sensor_msgs/Image topic; its /compressed sibling when compressed:=true'),
        DeclareLaunchArgument('namespace', default_value='luxcert', description='namespace of the node and its topics'),
        DeclareLaunchArgument('params', default_value=PathJoinSubstitution([FindPackageShare('luxcert_ros'), 'launch', 'params.yaml']), description='parameter file'),
        Node(
            package='luxcert_ros',
            executable='luxcert_node',
            name='luxcert',
            namespace=LaunchConfiguration('namespace'),
            parameters=[LaunchConfiguration('params'), {'bundle': LaunchConfiguration('bundle')}],
            remappings=[('image', image), ('image/compressed', [image, '/compressed'])],
            output='screen',
        ),
    ])
