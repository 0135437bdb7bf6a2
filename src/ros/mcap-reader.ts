import { parse } from '@foxglove/rosmsg';
import { MessageReader } from '@foxglove/rosmsg2-serialization';
import zstd from '@foxglove/wasm-zstd';
import { McapStreamReader, type TypedMcapRecords } from '@mcap/core';

/** One decoded message of a recording. */
export interface RecordedMessage {
  topic: string;
  schema: string;
  logTime: bigint;
  message: Record<string, any>;
}

/** The messages of a recording, with its header, the message count of each chunk, and why reading stopped early. */
export type Recording = RecordedMessage[] & { chunks: number[]; error?: string; header?: TypedMcapRecords['Header'] };

/**
 * Decodes every message of MCAP bytes from the schemas stored in them (ros2msg + CDR), stopping at
 * the first unreadable record — so a recording cut short by a hard kill yields every complete chunk.
 */
export async function readMcap(bytes: Uint8Array, o: { includeChunks?: boolean } = {}): Promise<Recording> {
  await zstd.isLoaded;
  const reader = new McapStreamReader({ includeChunks: o.includeChunks ?? false, decompressHandlers: { zstd: (buf, size) => zstd.decompress(buf, Number(size)) } });
  reader.append(bytes);
  const schemas = new Map<number, { name: string; reader: MessageReader }>();
  const channels = new Map<number, { topic: string; schemaId: number }>();
  const out = Object.assign([] as RecordedMessage[], { chunks: [] as number[] }) as Recording;
  try {
    for (let r; (r = reader.nextRecord()); ) {
      if (r.type === 'Header') out.header = r;
      if (r.type === 'Chunk') out.chunks.push(0);
      if (r.type === 'Schema') schemas.set(r.id, { name: r.name, reader: new MessageReader(parse(new TextDecoder().decode(r.data), { ros2: true })) });
      if (r.type === 'Channel') channels.set(r.id, { topic: r.topic, schemaId: r.schemaId });
      if (r.type === 'Message') {
        const c = channels.get(r.channelId)!;
        const s = schemas.get(c.schemaId)!;
        out.push({ topic: c.topic, schema: s.name, logTime: r.logTime, message: s.reader.readMessage(r.data) as Record<string, any> });
        if (out.chunks.length > 0) out.chunks[out.chunks.length - 1]!++;
      }
    }
  } catch (e) {
    out.error = (e as Error).message;
  }
  return out;
}
