import { readFileSync } from 'node:fs';

/** luxcert's version, from package.json. */
export const LUXCERT_VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
