import { open, rename, type FileHandle } from 'node:fs/promises';
import zstd from '@foxglove/wasm-zstd';
import { McapWriter, type IWritable } from '@mcap/core';
import { LUXCERT_VERSION } from '../core/version.ts';
import { messageSchema } from './interfaces.ts';
import { OUTPUT_CHANNELS, type ChannelKey, type EncodedMessage, type MessageSink } from './outputs.ts';

/**
 * Chunk size of recordings: each chunk is compressed and written whole, so a recording cut by a
 * hard kill loses at most the chunk being filled (at the demo's ~3 KB per frame, ~80 frames).
 */
export const MCAP_CHUNK_BYTES = 256 * 1024;

/** The QoS `ros2 bag` records for a sensor-data-like publisher (history keep-last, reliable, volatile). */
const QOS_YAML = [
  '- history: 1',
  '  depth: 10',
  '  reliability: 1',
  '  durability: 2',
  '  deadline: {sec: 9223372036, nsec: 854775807}',
  '  lifespan: {sec: 9223372036, nsec: 854775807}',
  '  liveliness: 1',
  '  liveliness_lease_duration: {sec: 9223372036, nsec: 854775807}',
  '  avoid_ros_namespace_conventions: false',
].join('\n');

/** An IWritable over a file, appending. */
class FileWritable implements IWritable {
  private offset = 0n;
  constructor(readonly fh: FileHandle) {}
  async write(buffer: Uint8Array): Promise<void> {
    await this.fh.write(buffer);
    this.offset += BigInt(buffer.byteLength);
  }
  position(): bigint {
    return this.offset;
  }
}

/**
 * A rosbag2-compatible MCAP recording (profile `ros2`, schemas `ros2msg`, messages `cdr`, zstd
 * chunks, indexed): written to `PATH.partial` and renamed onto PATH when closed, so an earlier
 * recording at PATH survives until the new one is complete.
 */
export class McapRecorder implements MessageSink {
  private sequence = 0;
  messages = 0;

  private constructor(readonly path: string, private readonly fh: FileHandle, private readonly writer: McapWriter, private readonly channels: Record<ChannelKey, number>) {}

  /** Starts a recording with every output channel registered. */
  static async open(path: string, chunkBytes = MCAP_CHUNK_BYTES): Promise<McapRecorder> {
    await zstd.isLoaded;
    const fh = await open(`${path}.partial`, 'w');
    const writer = new McapWriter({
      writable: new FileWritable(fh),
      chunkSize: chunkBytes,
      compressChunk: (data) => ({ compression: 'zstd', compressedData: zstd.compress(data, 3) }),
    });
    await writer.start({ profile: 'ros2', library: `luxcert ${LUXCERT_VERSION}` });
    const channels = {} as Record<ChannelKey, number>;
    for (const [key, c] of Object.entries(OUTPUT_CHANNELS) as [ChannelKey, (typeof OUTPUT_CHANNELS)[ChannelKey]][]) {
      const schemaId = await writer.registerSchema({ name: c.type, encoding: 'ros2msg', data: new TextEncoder().encode(messageSchema(c.type).text) });
      channels[key] = await writer.registerChannel({ topic: c.topic, messageEncoding: 'cdr', schemaId, metadata: new Map([['offered_qos_profiles', QOS_YAML]]) });
    }
    return new McapRecorder(path, fh, writer, channels);
  }

  async write(m: EncodedMessage): Promise<void> {
    await this.writer.addMessage({ channelId: this.channels[m.channel], sequence: this.sequence++, logTime: m.timeNs, publishTime: m.timeNs, data: m.data });
    this.messages++;
  }

  /** Writes the last chunk, the summary and the footer, flushes, and renames the file into place. */
  async close(): Promise<void> {
    await this.writer.end();
    await this.fh.sync();
    await this.fh.close();
    await rename(`${this.path}.partial`, this.path);
  }
}
