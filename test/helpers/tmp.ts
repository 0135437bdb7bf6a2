import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh temporary folder for one test file. */
export function tmpDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `luxcert-${prefix}-`));
}
