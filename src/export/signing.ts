import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { LuxcertError } from '../core/errors.ts';

/** A bundle's signature: who signed (key, optional name) and the Ed25519 signature of the manifest. */
export interface BundleSignature {
  algorithm: 'ed25519';
  /** `sha256:` + hex SHA-256 of the public key (SPKI DER): names the key without trusting the file. */
  keyId: string;
  /** Base64 SPKI DER of the public key, so any device can check the signature; `keyId` is its hash. */
  publicKey: string;
  /** Free text naming the signer (team, person); part of what is signed. */
  signer?: string;
  /** Base64 Ed25519 signature of the canonical manifest without this field. */
  value: string;
}

const MAX_KEY_BYTES = 16 * 1024;

/** Reads an Ed25519 key of one kind from a PEM file of at most 16 KiB; anything else is one line. */
function readKey(path: string, kind: 'private' | 'public'): KeyObject {
  const what = `${kind} key`;
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    throw new LuxcertError(`${path}: no such ${what} file`);
  }
  if (size > MAX_KEY_BYTES) throw new LuxcertError(`${path}: ${size} bytes is too large for a ${what} (PEM)`);
  let key: KeyObject;
  try {
    const pem = readFileSync(path, 'utf8');
    key = kind === 'private' ? createPrivateKey(pem) : createPublicKey(pem);
  } catch (e) {
    throw new LuxcertError(`${path}: not a PEM ${what} (${(e as Error).message})`);
  }
  if (key.type !== kind) throw new LuxcertError(`${path}: not a ${what}`);
  if (key.asymmetricKeyType !== 'ed25519') throw new LuxcertError(`${path}: a ${key.asymmetricKeyType} key; bundles are signed with Ed25519 keys (luxcert keygen)`);
  return key;
}

/** Reads an Ed25519 private key (PEM, PKCS#8). */
export const readPrivateKey = (path: string): KeyObject => readKey(path, 'private');

/** Reads an Ed25519 public key (PEM, SPKI). */
export const readPublicKey = (path: string): KeyObject => readKey(path, 'public');

/** The key id of a public key: `sha256:` + hex of its SPKI DER encoding. */
export function keyId(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return `sha256:${createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex')}`;
}

/** A new Ed25519 key pair as PEM text. */
export function generateSigningKeys(): { privatePem: string; publicPem: string; keyId: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), keyId: keyId(publicKey) };
}

/** Who signs with `key`: everything of a signature but its value. */
export function signerOf(key: KeyObject, signer?: string): Omit<BundleSignature, 'value'> {
  const pub = createPublicKey(key);
  return { algorithm: 'ed25519', keyId: keyId(pub), publicKey: pub.export({ type: 'spki', format: 'der' }).toString('base64'), ...(signer !== undefined ? { signer } : {}) };
}

/** The base64 Ed25519 signature of `payload` (the canonical manifest) by a private key. */
export function signPayload(payload: string, key: KeyObject): string {
  return sign(null, Buffer.from(payload), key).toString('base64');
}

/** The signature's own public key, after checking that `keyId` names it; undefined when it does not parse or match. */
export function signatureKey(sig: BundleSignature): KeyObject | undefined {
  try {
    const key = createPublicKey({ key: Buffer.from(sig.publicKey, 'base64'), format: 'der', type: 'spki' });
    return key.asymmetricKeyType === 'ed25519' && keyId(key) === sig.keyId ? key : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `sig` is a valid Ed25519 signature of `payload` by `key`. */
export function verifyPayload(payload: string, sig: BundleSignature, key: KeyObject): boolean {
  const bytes = Buffer.from(sig.value, 'base64');
  return bytes.length === 64 && verify(null, Buffer.from(payload), key, bytes);
}
