import wsProtocol, { type IWebSocket } from '@foxglove/ws-protocol';
import { WebSocketServer, type WebSocket } from 'ws';
import { LuxcertError } from '../core/errors.ts';
import { log } from '../core/logger.ts';
import { LUXCERT_VERSION } from '../core/version.ts';
import { messageSchema } from './interfaces.ts';
import { OUTPUT_CHANNELS, type ChannelKey, type EncodedMessage, type MessageSink } from './outputs.ts';

// The package is CommonJS with getter exports that Node's ESM loader cannot name.
const { FoxgloveServer } = wsProtocol;
type FoxgloveServer = InstanceType<typeof FoxgloveServer>;

/** The sub-protocols a client may ask for: current Foxglove apps speak the first, older ones the second. */
export const FOXGLOVE_SUBPROTOCOLS = ['foxglove.sdk.v1', 'foxglove.websocket.v1'] as const;

/** Bytes a client may have waiting in its socket before its messages are dropped. */
export const CLIENT_BUFFER_BYTES = 4 * 1024 * 1024;

/**
 * A client's socket as the protocol library sees it: control messages always go through; message
 * data is dropped (and counted) while the client's unsent bytes exceed the limit, so a slow or
 * vanished client never holds up the run or grows memory without bound.
 */
class BoundedSocket implements IWebSocket {
  dropped = 0;
  constructor(private readonly ws: WebSocket, private readonly limit: number, private readonly name: string) {}
  get binaryType(): string { return this.ws.binaryType; }
  set binaryType(v: string) { this.ws.binaryType = v as WebSocket['binaryType']; }
  get protocol(): string { return this.ws.protocol; }
  set onerror(f: ((e: unknown) => void) | null | undefined) { this.ws.onerror = f ?? null; }
  set onopen(f: ((e: unknown) => void) | null | undefined) { this.ws.onopen = f ?? null; }
  set onclose(f: ((e: unknown) => void) | null | undefined) { this.ws.onclose = f ?? null; }
  set onmessage(f: ((e: unknown) => void) | null | undefined) { this.ws.onmessage = f ?? null; }
  get onerror(): ((e: unknown) => void) | null { return this.ws.onerror as ((e: unknown) => void) | null; }
  get onopen(): ((e: unknown) => void) | null { return this.ws.onopen as ((e: unknown) => void) | null; }
  get onclose(): ((e: unknown) => void) | null { return this.ws.onclose as ((e: unknown) => void) | null; }
  get onmessage(): ((e: unknown) => void) | null { return this.ws.onmessage as ((e: unknown) => void) | null; }
  close(): void { this.ws.close(); }
  send(data: string | ArrayBuffer | ArrayBufferView): void {
    if (typeof data !== 'string' && this.ws.bufferedAmount > this.limit) {
      if (this.dropped++ === 0) log.warn({ client: this.name, waitingBytes: this.ws.bufferedAmount }, 'Foxglove client is not keeping up: dropping its messages');
      return;
    }
    this.ws.send(data);
  }
}

/** Parses `[HOST:]PORT`; the host defaults to the loopback address. */
export function parseListenAddress(spec: string): { host: string; port: number } {
  const m = /^(?:(.+):)?(\d+)$/.exec(spec.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) throw new LuxcertError(`--foxglove must be [HOST:]PORT with a port in 0..65535, got '${spec}'`);
  return { host: (m[1] ?? '127.0.0.1').replace(/^\[(.*)\]$/, '$1'), port };
}

/** A live Foxglove WebSocket server with luxcert's output channels. */
export class FoxgloveLive implements MessageSink {
  private readonly sockets = new Set<BoundedSocket>();
  private droppedBefore = 0;

  private constructor(private readonly wss: WebSocketServer, private readonly server: FoxgloveServer, private readonly channels: Record<ChannelKey, number>, readonly port: number) {}

  /** Listens on `host:port` (port 0: any free port) and advertises every output channel. */
  static async start(host: string, port: number, limit = CLIENT_BUFFER_BYTES): Promise<FoxgloveLive> {
    const server = new FoxgloveServer({ name: `luxcert ${LUXCERT_VERSION}` });
    const channels = {} as Record<ChannelKey, number>;
    for (const [key, c] of Object.entries(OUTPUT_CHANNELS) as [ChannelKey, (typeof OUTPUT_CHANNELS)[ChannelKey]][]) {
      channels[key] = server.addChannel({ topic: c.topic, encoding: 'cdr', schemaName: c.type, schema: messageSchema(c.type).text, schemaEncoding: 'ros2msg' });
    }
    const wss = new WebSocketServer({
      host,
      port,
      handleProtocols: (offered) => FOXGLOVE_SUBPROTOCOLS.find((p) => offered.has(p)) ?? false,
    });
    await new Promise<void>((resolve, reject) => {
      wss.once('listening', resolve);
      wss.once('error', (e) => reject(new LuxcertError(`--foxglove ${host}:${port}: cannot listen (${e.message})`)));
    });
    const live = new FoxgloveLive(wss, server, channels, (wss.address() as { port: number }).port);
    wss.on('connection', (ws, req) => {
      const name = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
      const socket = new BoundedSocket(ws, limit, name);
      live.sockets.add(socket);
      ws.on('close', () => {
        live.sockets.delete(socket);
        live.droppedBefore += socket.dropped;
        if (socket.dropped > 0) log.warn({ client: name, dropped: socket.dropped }, 'Foxglove client left; messages were dropped while it lagged');
      });
      log.info({ client: name, protocol: ws.protocol }, 'Foxglove client connected');
      server.handleConnection(socket, name);
    });
    server.on('error', (e) => log.warn({ error: e.message }, 'Foxglove server'));
    return live;
  }

  /** Clients connected now. */
  get clients(): number {
    return this.sockets.size;
  }

  /** Messages dropped for lagging clients so far. */
  get dropped(): number {
    let n = this.droppedBefore;
    for (const s of this.sockets) n += s.dropped;
    return n;
  }

  write(m: EncodedMessage): void {
    this.server.sendMessage(this.channels[m.channel], m.timeNs, m.data as Uint8Array<ArrayBuffer>);
  }

  /** Disconnects every client and stops listening. */
  async close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    await new Promise<void>((r) => this.wss.close(() => r()));
  }
}
