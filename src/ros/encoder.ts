import { MessageWriter } from '@foxglove/rosmsg2-serialization';
import { messageSchema, type MessageType } from './interfaces.ts';

/**
 * CDR encoding of the message types luxcert writes, each from the one schema text that is also
 * stored with it (MCAP schema, Foxglove channel), so what is written is what readers decode.
 */
export class MessageEncoder {
  private readonly writers = new Map<MessageType, MessageWriter>();

  /** The CDR bytes of `msg` as a `type`. */
  encode(type: MessageType, msg: unknown): Uint8Array {
    let w = this.writers.get(type);
    if (!w) {
      w = new MessageWriter(messageSchema(type).definitions);
      this.writers.set(type, w);
    }
    return w.writeMessage(msg);
  }
}
