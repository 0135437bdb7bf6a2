import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { LuxcertError } from '../../src/core/errors.ts';
import { exportBundle, loadBundle, type ExportOptions } from '../../src/export/bundle.ts';
import { generateSigningKeys, readPrivateKey, readPublicKey } from '../../src/export/signing.ts';
import { boxFromFlags } from '../../src/model/perturbation.ts';
import { buildBoundGraph } from '../../src/bounds/bound-graph.ts';
import { encodeOnnx } from '../../src/onnx/write.ts';
import { luxcert } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { cloneGraph, zooModel } from './helpers.ts';

const root = tmpDir('adv-bundle');
const bundle = join(root, 'bundle');
const OPTIONS: ExportOptions = { maxBox: boxFromFlags(0.1, 0.1), tolerance: 2, boxesPerCall: 8, budgetMs: 20, grid: 1 };
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
let n = 0;

/** A copy of the bundle with `edit` applied to its parsed manifest (and files), returned as a folder. */
function tampered(edit: (m: Record<string, any>, dir: string) => void, from = bundle): string {
  const dir = join(root, `t${n++}`);
  cpSync(from, dir, { recursive: true });
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  edit(m, dir);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m, null, 2));
  return dir;
}

/** Asserts that loading refuses the folder with one line naming a bundle file. */
function refused(dir: string, pattern: RegExp, trust?: Parameters<typeof loadBundle>[1]) {
  assert.throws(() => loadBundle(dir, trust), (e: Error) => {
    assert.ok(e instanceof LuxcertError, `a LuxcertError, got ${e.stack}`);
    assert.ok(!e.message.includes('\n'), 'one line');
    assert.match(e.message, /(manifest\.json|model\.onnx|certifier\.onnx)/);
    assert.match(e.message, pattern);
    return true;
  });
}

describe('bundles as a trust boundary', () => {
  before(() => {
    const { graph, meta } = zooModel();
    exportBundle(graph, meta, bundle, OPTIONS);
  });

  it('a genuine bundle loads, and its certifier is the one rebuilt from its model', () => {
    const b = loadBundle(bundle);
    assert.equal(sha(b.certifier), b.manifest.files.certifier.sha256);
    assert.equal(b.signedBy, undefined);
  });

  const claimEdits: [string, (m: Record<string, any>) => void][] = [
    ['maxBox.alphaLo', (m) => (m.maxBox.alphaLo = 0.5)],
    ['maxBox.alphaHi', (m) => (m.maxBox.alphaHi = 1.5)],
    ['maxBox.betaLo', (m) => (m.maxBox.betaLo = -0.3)],
    ['maxBox.betaHi', (m) => (m.maxBox.betaHi = 0.3)],
    ['tolerance', (m) => (m.tolerance = 3)],
    ['search.boxesPerCall', (m) => (m.search.boxesPerCall = 4)],
    ['search.grid', (m) => (m.search.grid = 2)],
    ['search.budgetMs', (m) => (m.search.budgetMs = 40)],
    ['search.strategy', (m) => (m.search.strategy = 'trust me')],
  ];
  for (const [field, edit] of claimEdits) {
    it(`an edited claim parameter (${field}) is refused: the certifier no longer belongs to the claim`, () => refused(tampered(edit), /not the certifier of model\.onnx for the manifest's claim/));
  }

  const fieldEdits: [string, (m: Record<string, any>) => void, RegExp][] = [
    ['schema', (m) => (m.schema = 'luxcert.bundle/1'), /field schema/],
    ['files.model.path (leaves the bundle)', (m) => (m.files.model.path = '../model.onnx'), /field files\.model\.path/],
    ['files.certifier.path', (m) => (m.files.certifier.path = '/etc/passwd'), /field files\.certifier\.path/],
    ['files.model.sha256', (m) => (m.files.model.sha256 = '0'.repeat(64)), /files\.model\.sha256/],
    ['files.certifier.sha256 (not hex)', (m) => (m.files.certifier.sha256 = 'x'), /files\.certifier\.sha256/],
    ['meta.keypoints', (m) => (m.meta.keypoints = ['x', 'y', 'z']), /field meta does not match/],
    ['meta.inputSize', (m) => (m.meta.inputSize = [64, 64]), /field meta does not match/],
    ['meta.pixelScale', (m) => (m.meta.pixelScale = 1), /field meta does not match/],
    ['meta.head', (m) => (m.meta.head = 'heatmap'), /field meta does not match/],
    ['meta (extra key)', (m) => (m.meta.extra = 1), /field meta\.extra/],
    ['tolerance NaN (as null)', (m) => (m.tolerance = null), /field tolerance/],
    ['tolerance out of range', (m) => (m.tolerance = 1e9), /field tolerance/],
    ['maxBox without the identity', (m) => (m.maxBox.alphaLo = 1.01), /field maxBox/],
    ['maxBox.betaHi as a string', (m) => (m.maxBox.betaHi = '0.1'), /field maxBox\.betaHi/],
    ['search.boxesPerCall fractional', (m) => (m.search.boxesPerCall = 2.5), /search\.boxesPerCall|not the certifier/],
    ['search.budgetMs negative', (m) => (m.search.budgetMs = -5), /field search\.budgetMs/],
    ['an unknown top-level field', (m) => (m.certified = true), /field certified is not part/],
    ['a missing field', (m) => delete m.search, /field search is missing/],
    ['a forged signature', (m) => (m.signature = { algorithm: 'ed25519', keyId: `sha256:${'a'.repeat(64)}`, publicKey: 'AAAA', value: 'AAAA' }), /field signature does not verify/],
  ];
  for (const [what, edit, pattern] of fieldEdits) it(`an edited manifest field (${what}) is refused in one line`, () => refused(tampered(edit), pattern));

  it('a model swapped in with its hash updated is refused (its certifier does not match it)', () => {
    const other = zooModel('regression', 99);
    const bytes = encodeOnnx(other.graph);
    refused(tampered((m, dir) => {
      writeFileSync(join(dir, 'model.onnx'), bytes);
      m.files.model.sha256 = sha(bytes);
    }), /not the certifier of model\.onnx/);
  });

  it('a certifier swapped in with its hash updated is refused — another model\'s, or the same model\'s built differently', () => {
    const other = zooModel('regression', 99);
    for (const certifier of [encodeOnnx(buildBoundGraph(other.graph, { boxes: 8, mode: 'linear' })), encodeOnnx(buildBoundGraph(zooModel().graph, { boxes: 8, mode: 'ibp' }))]) {
      refused(tampered((m, dir) => {
        writeFileSync(join(dir, 'certifier.onnx'), certifier);
        m.files.certifier.sha256 = sha(certifier);
      }), /not the certifier of model\.onnx/);
    }
  });

  it('both files swapped for another model\'s bundle under this manifest\'s claim are refused', () => {
    const other = join(root, 'other');
    const o = zooModel('regression', 99);
    exportBundle(o.graph, o.meta, other, { ...OPTIONS, tolerance: 30 });
    refused(tampered((m, dir) => {
      const om = JSON.parse(readFileSync(join(other, 'manifest.json'), 'utf8'));
      cpSync(join(other, 'model.onnx'), join(dir, 'model.onnx'));
      cpSync(join(other, 'certifier.onnx'), join(dir, 'certifier.onnx'));
      m.files = om.files;
    }), /not the certifier of model\.onnx for the manifest's claim/);
  });

  it('a model luxcert cannot import (non-finite weight), with its hash updated, is refused', () => {
    const g = cloneGraph(zooModel().graph);
    [...g.initializers.values()][0]!.data[0] = NaN;
    const bytes = encodeOnnx(g);
    refused(tampered((m, dir) => {
      writeFileSync(join(dir, 'model.onnx'), bytes);
      m.files.model.sha256 = sha(bytes);
    }), /holds NaN/);
  });

  it('oversized and malformed manifests are refused before parsing the rest', () => {
    const big = tampered(() => {});
    writeFileSync(join(big, 'manifest.json'), `{"pad": "${'x'.repeat(2 << 20)}"}`);
    refused(big, /over the .*limit/);
    const bad = tampered(() => {});
    writeFileSync(join(bad, 'manifest.json'), '{"schema": ');
    refused(bad, /malformed JSON/);
  });

  it('signed bundles: a trusted signature loads; unsigned, wrongly signed or edited-after-signing bundles are refused', () => {
    const team = generateSigningKeys();
    const stranger = generateSigningKeys();
    for (const [name, k] of [['team', team], ['stranger', stranger]] as const) {
      writeFileSync(join(root, `${name}.key`), k.privatePem);
      writeFileSync(join(root, `${name}.pub`), k.publicPem);
    }
    const signed = join(root, 'signed');
    const { graph, meta } = zooModel();
    const m = exportBundle(graph, meta, signed, { ...OPTIONS, sign: { key: readPrivateKey(join(root, 'team.key')), signer: 'field team' } });
    assert.equal(m.signature?.keyId, team.keyId);
    const trustTeam = { trust: [readPublicKey(join(root, 'team.pub'))] };
    assert.equal(loadBundle(signed, trustTeam).signedBy, team.keyId);
    assert.equal(loadBundle(signed).signedBy, team.keyId, 'a signature is checked even without --trust');
    refused(bundle, /not signed/, trustTeam);
    refused(signed, /not one of the trusted keys/, { trust: [readPublicKey(join(root, 'stranger.pub'))] });
    refused(tampered((mm) => (mm.signature.signer = 'someone else'), signed), /signature does not verify/);
    refused(tampered((mm) => (mm.createdAt = '2020-01-01T00:00:00.000Z'), signed), /signature does not verify/);
    refused(tampered((mm) => (mm.tolerance = 3), signed), /signature does not verify/);
    // Re-signed by a stranger: valid signature, untrusted key.
    const resigned = join(root, 'resigned');
    exportBundle(graph, meta, resigned, { ...OPTIONS, sign: { key: readPrivateKey(join(root, 'stranger.key')) } });
    refused(resigned, /not one of the trusted keys/, trustTeam);
  });

  it('keys that are not Ed25519 PEM files are refused in one line', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    writeFileSync(join(root, 'rsa.key'), rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(join(root, 'garbage.pub'), 'not a key');
    assert.throws(() => readPrivateKey(join(root, 'rsa.key')), /a rsa key; bundles are signed with Ed25519 keys/);
    assert.throws(() => readPublicKey(join(root, 'garbage.pub')), /not a PEM public key/);
    assert.throws(() => readPublicKey(join(root, 'absent.pub')), /no such public key file/);
  });

  it('the CLI: keygen, export --sign, run --trust; a tampered bundle stops run with one line and exit 1', () => {
    const prefix = join(root, 'cli-key');
    let r = luxcert('keygen', '--out', prefix, '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.match(JSON.parse(r.stdout).keyId, /^sha256:[0-9a-f]{64}$/);
    assert.equal(luxcert('keygen', '--out', prefix).code, 1, 'never overwrites a key');
    const model = join(root, 'cli-model.onnx');
    writeFileSync(model, encodeOnnx(zooModel().graph));
    const out = join(root, 'cli-bundle');
    r = luxcert('export', '--model', model, '--out', out, '--sign', `${prefix}.key`, '--signer', 'ci');
    assert.equal(r.code, 0, r.stderr);
    const frames = join(root, 'no-frames');
    r = luxcert('run', '--bundle', out, '--input', frames, '--trust', `${prefix}.pub`);
    assert.match(r.stderr, /no-frames: no such file or folder/, 'the bundle passed its checks; the input is what is missing');
    const bad = tampered((m) => (m.tolerance = 5), out);
    r = luxcert('run', '--bundle', bad, '--input', frames, '--trust', `${prefix}.pub`);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^luxcert: .*manifest\.json: field signature does not verify/);
  });
});
