// Two benchmarked sides, each in a process of its own, taking turns in short slots: a machine whose
// speed drifts over seconds (this VM's moved 1.6× within minutes) then slows both sides alike, where
// whole rounds of several seconds each let one side's best round fall in a fast minute the other's missed.
// Protocol (one line each way): the child prints `{"ready":true}` once set up and warmed up; to
// `train S` it trains for at least S seconds (whole steps, at least one) and prints
// `{"images":N,"seconds":T}`; to `finish` it prints its final JSON line and exits.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { timed } from './timing.ts';

/** What one slot did. */
export interface Slot {
  images: number;
  seconds: number;
}

/** The parent's handle on one side's child process. */
export class SlotChild {
  private readonly lines: string[] = [];
  private waiting?: { resolve: (line: string) => void; reject: (err: Error) => void };
  private stderr = '';
  private ended?: Error;

  private constructor(private readonly name: string, private readonly child: ChildProcessWithoutNullStreams) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (this.waiting) {
        this.waiting.resolve(line);
        this.waiting = undefined;
      } else this.lines.push(line);
    });
    child.stderr.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4000)));
    child.on('close', (code) => {
      // The last line that says something: not a stack frame, not Node's version footer.
      const said = this.stderr.split('\n').reverse().find((l) => l.trim() && !/^\s+at |^Node\.js v/.test(l)) ?? '';
      this.ended = new Error(`${name} ended (exit ${code}): ${said.trim()}`);
      this.waiting?.reject(this.ended);
      this.waiting = undefined;
    });
  }

  /** Starts the child and waits until it says it is ready. */
  static async start(name: string, command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<SlotChild> {
    const c = new SlotChild(name, spawn(command, args, { env }));
    await c.reply();
    return c;
  }

  /** Trains for at least `seconds` and says how many images in how long. */
  async train(seconds: number): Promise<Slot> {
    this.child.stdin.write(`train ${seconds}\n`);
    return (await this.reply()) as Slot;
  }

  /** Asks for the child's final figures; it exits after them. */
  async finish<T>(): Promise<T> {
    this.child.stdin.end('finish\n');
    return (await this.reply()) as T;
  }

  private reply(): Promise<unknown> {
    const parse = (line: string) => {
      try {
        return JSON.parse(line) as unknown;
      } catch {
        throw new Error(`${this.name} printed '${line.slice(0, 200)}', not a JSON line`);
      }
    };
    const queued = this.lines.shift();
    if (queued !== undefined) return Promise.resolve(parse(queued));
    if (this.ended) return Promise.reject(this.ended);
    return new Promise((resolve, reject) => (this.waiting = { resolve: (line) => { try { resolve(parse(line)); } catch (err) { reject(err as Error); } }, reject }));
  }
}

/** The child's half: one warm-up step, then slots of whole `step`s (each returns its images) until told to finish. */
export async function serveSlots(step: () => Promise<number>, finish: () => Promise<object>): Promise<void> {
  await step();
  console.log(JSON.stringify({ ready: true }));
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'finish') break;
    const seconds = Number(/^train (\S+)$/.exec(line)?.[1]);
    if (!(seconds > 0)) throw new Error(`unknown request '${line}'`);
    const t = await timed(seconds, step);
    console.log(JSON.stringify({ images: t.done, seconds: t.seconds }));
  }
  console.log(JSON.stringify(await finish()));
}

/** A side's images per second over all its slots. */
export const slotRate = (slots: Slot[]): number => slots.reduce((a, s) => a + s.images, 0) / slots.reduce((a, s) => a + s.seconds, 0);
