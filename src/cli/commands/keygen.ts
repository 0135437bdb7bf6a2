import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { writeFileAtomic } from '../../core/atomic-write.ts';
import { LuxcertError } from '../../core/errors.ts';
import { checkOutputFile } from '../../core/output-path.ts';
import { generateSigningKeys } from '../../export/signing.ts';
import { action, emit } from '../run-command.ts';

/** `luxcert keygen`: an Ed25519 key pair for signing bundles (export --sign) and trusting them (run --trust). */
export function registerKeygen(program: Command): void {
  program
    .command('keygen')
    .description('make an Ed25519 key pair for signed bundles: PREFIX.key (private, mode 600) and PREFIX.pub')
    .requiredOption('--out <prefix>', 'path prefix of the two key files')
    .option('--json', 'machine-readable output')
    .action(
      action((f: { out: string; json?: boolean }) => {
        const priv = `${f.out}.key`;
        const pub = `${f.out}.pub`;
        for (const p of [priv, pub]) {
          if (existsSync(p)) throw new LuxcertError(`${p} exists; luxcert never overwrites a key`);
          checkOutputFile(p, '--out');
        }
        const k = generateSigningKeys();
        writeFileAtomic(priv, k.privatePem, 0o600);
        writeFileAtomic(pub, k.publicPem);
        emit(Boolean(f.json), { privateKey: priv, publicKey: pub, keyId: k.keyId }, () => `wrote ${priv} (keep it secret) and ${pub} (copy it to the devices); key id ${k.keyId}`);
      }),
    );
}
