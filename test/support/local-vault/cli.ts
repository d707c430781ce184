#!/usr/bin/env node
// Runs the local vault as its own process for the README demo and the benchmark:
// prints one JSON line describing it, then serves until SIGTERM/SIGINT or until
// the parent closes our stdin pipe.
import { randomBytes } from 'node:crypto';
import { fstatSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { startLocalVault } from './server.js';

const USAGE = `usage: cli.js [--secret vault/name=value]... [--count N --vault NAME]
              [--keys N --vault NAME] [--certificates N --vault NAME] [--hsm-keys N --hsm NAME]
              [--latency-ms MS] [--rate-limit PER_SECOND] [--tenant-id ID]`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      secret: { type: 'string', multiple: true },
      count: { type: 'string' },
      vault: { type: 'string' },
      keys: { type: 'string' },
      certificates: { type: 'string' },
      hsm: { type: 'string' },
      'hsm-keys': { type: 'string' },
      'latency-ms': { type: 'string' },
      'rate-limit': { type: 'string' },
      'tenant-id': { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    process.stderr.write(`${USAGE}\n`);
    return;
  }

  const seeds: Array<[string, string, string]> = [];
  for (const spec of values.secret ?? []) {
    const match = /^([^/=]+)\/([^=]+)=(.*)$/s.exec(spec);
    if (!match) throw new UsageError(`--secret wants vault/name=value, got '${spec.split('=')[0] ?? ''}'`);
    seeds.push([match[1]!, match[2]!, match[3]!]);
  }
  if (values.count !== undefined) {
    const count = wholeNumber('--count', values.count);
    if (!values.vault) throw new UsageError('--count needs --vault');
    const width = Math.max(4, String(count).length);
    for (let i = 1; i <= count; i++) {
      seeds.push([values.vault, `secret-${String(i).padStart(width, '0')}`, randomBytes(24).toString('base64url')]);
    }
  }

  const keys = values.keys === undefined ? 0 : wholeNumber('--keys', values.keys);
  const certificates = values.certificates === undefined ? 0 : wholeNumber('--certificates', values.certificates);
  const hsmKeys = values['hsm-keys'] === undefined ? 0 : wholeNumber('--hsm-keys', values['hsm-keys']);
  if ((keys > 0 || certificates > 0) && !values.vault) throw new UsageError('--keys and --certificates need --vault');
  if (hsmKeys > 0 && !values.hsm) throw new UsageError('--hsm-keys needs --hsm');

  const vault = await startLocalVault({
    ...(values['tenant-id'] ? { tenantId: values['tenant-id'] } : {}),
    ...(values['latency-ms'] !== undefined ? { latencyMs: wholeNumber('--latency-ms', values['latency-ms']) } : {}),
  });
  if (values['rate-limit'] !== undefined) vault.faults.setRateLimit(wholeNumber('--rate-limit', values['rate-limit']));
  for (const [v, name, value] of seeds) vault.setSecret(v, name, value);
  for (let i = 1; i <= keys; i++) vault.setKey(values.vault!, numbered('key', i, keys));
  for (let i = 1; i <= certificates; i++) vault.setCertificate(values.vault!, numbered('certificate', i, certificates));
  for (let i = 1; i <= hsmKeys; i++) vault.setKey(values.hsm!, numbered('key', i, hsmKeys), { hsm: true });

  process.stdout.write(
    `${JSON.stringify({
      origin: vault.origin,
      vaultUrlTemplate: vault.vaultUrlTemplate,
      hsmUrlTemplate: vault.hsmUrlTemplate,
      caFile: vault.caFile,
      identityEndpoint: vault.identityEndpoint,
      identityHeader: vault.identityHeader,
      tenantId: vault.tenantId,
      seeded: seeds.length,
      seededKeys: keys,
      seededCertificates: certificates,
      seededHsmKeys: hsmKeys,
    })}\n`,
  );

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void vault.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // Only a pipe from a parent counts as "stdin": a shell's background job gets
  // /dev/null, whose instant EOF would otherwise stop the server at once.
  const stdin = fstatSync(0);
  if (stdin.isFIFO() || stdin.isSocket()) {
    process.stdin.on('end', stop);
    process.stdin.on('close', stop);
    process.stdin.resume();
  }
}

class UsageError extends Error {}

/** `key-0001`, as the secrets are `secret-0001`: sortable, at least four digits. */
function numbered(prefix: string, i: number, count: number): string {
  return `${prefix}-${String(i).padStart(Math.max(4, String(count).length), '0')}`;
}

function wholeNumber(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${flag} wants a whole number, got '${text}'`);
  return n;
}

main().catch((err: unknown) => {
  process.stderr.write(err instanceof UsageError ? `${err.message}\n${USAGE}\n` : `local vault failed: ${String(err)}\n`);
  process.exit(2);
});
