import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BIN, luxcert } from './helpers/cli.ts';
import { tmpDir } from './helpers/tmp.ts';

const COMMANDS = ['inspect', 'data synth', 'train', 'eval', 'prune', 'certify', 'export', 'run', 'experiment', 'demo'];

describe('the luxcert command', () => {
  it('lists every command of the contract in --help', () => {
    const r = luxcert('--help');
    assert.equal(r.code, 0);
    for (const c of COMMANDS) assert.match(r.stdout, new RegExp(`^  ${c.split(' ')[0]}\\b`, 'm'));
  });

  for (const c of COMMANDS) {
    it(`${c} --help exits 0`, () => {
      const r = luxcert(...c.split(' '), '--help');
      assert.equal(r.code, 0);
      assert.match(r.stdout, /^Usage: luxcert /);
    });
  }

  it('a missing required flag or an unknown option exits 1 without a stack trace', () => {
    for (const args of [['inspect'], ['inspect', '--model', 'm.onnx', '--bogus'], ['--log-level', 'loud', 'inspect', '--model', 'x']]) {
      const r = luxcert(...args);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr, /^error: /);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
  });

  it('LUXCERT_LOG_LEVEL sets the log level when --log-level is not given; --log-level wins over it', () => {
    const dir = tmpDir('cli');
    const synth = (env: string, ...flags: string[]) =>
      spawnSync(process.execPath, [BIN, ...flags, 'data', 'synth', '--out', join(dir, `${env}${flags.length}`), '--count', '2'], { encoding: 'utf8', env: { ...process.env, LUXCERT_LOG_LEVEL: env } }).stderr;
    assert.match(synth('info'), /synthetic scenes written/);
    assert.equal(synth('warn'), '');
    assert.match(synth('warn', '--log-level', 'info'), /synthetic scenes written/);
    assert.match(synth('loud'), /^error: option '--log-level <level>' value 'loud' from env 'LUXCERT_LOG_LEVEL' is invalid/);
  });

  it('prints its version', () => {
    const r = luxcert('--version');
    assert.equal(r.code, 0);
    assert.match(r.stdout.trim(), /^\d+\.\d+\.\d+$/);
  });
});
