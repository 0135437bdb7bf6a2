// Stand-in for the interfaces.d.ts that `npx generate-ros-messages` writes into rclnodejs/types
// from a sourced ROS 2 installation. CI has no ROS, so scripts/typecheck-ros.sh copies this file
// there: it declares the message types luxcert's node uses and those rclnodejs's own declarations
// name, so the node is checked against rclnodejs's API (method names, arguments, lifecycle and
// QoS types) and the topic type names it uses. Message fields stay loose here; luxcert's own
// message shapes are typed in src/ros/messages.ts.
declare module 'rclnodejs' {
  namespace builtin_interfaces { namespace msg { type Time = { sec: number; nanosec: number } } }
  namespace std_msgs { namespace msg { type String = { data: string } } }
  namespace unique_identifier_msgs { namespace msg { type UUID = { uuid: number[] | Uint8Array } } }
  namespace rcl_interfaces {
    namespace msg {
      type SetParametersResult = { successful: boolean; reason: string };
      type Parameter = { name: string; value: ParameterValue };
      type ParameterValue = Record<string, unknown>;
      type ParameterDescriptor = Record<string, unknown>;
    }
  }
  namespace lifecycle_msgs { namespace msg { type TransitionConstructor = Record<string, number> } }
  namespace action_msgs { namespace srv { type CancelGoal_Response = Record<string, unknown> } }

  type LooseMessage = Record<string, any>;
  type MessagesMap = {
    'luxcert_msgs/msg/CertifiedKeypoints': LooseMessage;
    'foxglove_msgs/msg/ImageAnnotations': LooseMessage;
    'sensor_msgs/msg/Image': LooseMessage;
    'sensor_msgs/msg/CompressedImage': LooseMessage;
    'diagnostic_msgs/msg/DiagnosticArray': LooseMessage;
    'vision_msgs/msg/Detection2DArray': LooseMessage;
    'std_msgs/msg/String': std_msgs.msg.String;
  };
  type MessageTypeClassName = keyof MessagesMap;
  type Message = MessagesMap[MessageTypeClassName];
  type MessageType<T> = T extends MessageTypeClassName ? MessagesMap[T] : T extends new (...args: any[]) => infer R ? R : object;
  type MessageTypeClassConstructorMap = { [K in MessageTypeClassName]: new () => MessagesMap[K] };
  type MessageConstructorType<T> = T extends MessageTypeClassName ? MessageTypeClassConstructorMap[T] : object;
  type ServicesMap = Record<never, never>;
  type ServiceTypeClassName = keyof ServicesMap;
  type Service = never;
  type ServiceType<T> = T extends { Request: any; Response: any } ? T : object;
  type ActionsMap = Record<never, never>;
  type ActionTypeClassName = keyof ActionsMap;
  type Action = never;
  type ActionType<T> = T extends { Goal: any; Feedback: any; Result: any } ? T : object;
  type TypeClassName = MessageTypeClassName | ServiceTypeClassName | ActionTypeClassName;
  type InterfaceType<T> = T extends TypeClassName ? (MessageTypeClassConstructorMap & ServicesMap & ActionsMap)[T] : object;
}
