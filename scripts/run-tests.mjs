// Node 20's test runner neither expands globs nor finds .ts files, so list them here.
// test-exit-reporter.mjs adds how a failed file's process ended (code or signal), which spec leaves out.
// Logs stay at warn unless LUXCERT_LOG_LEVEL says otherwise, so the test report stays readable.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const find = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? (e.name === 'fixtures' ? [] : find(join(dir, e.name))) : e.name.endsWith('.test.ts') ? [join(dir, e.name)] : [],
  );

const EXIT_REPORTER = fileURLToPath(new URL('./test-exit-reporter.mjs', import.meta.url));
const files = process.argv.length > 2 ? process.argv.slice(2) : find('test').sort();
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-reporter-destination=stdout', `--test-reporter=${EXIT_REPORTER}`, '--test-reporter-destination=stdout', ...files], { stdio: 'inherit', env: { LUXCERT_LOG_LEVEL: 'warn', ...process.env } });
process.exit(r.status ?? 1);
