import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tlsMaterial } from './tls.js';

const run = promisify(execFile);

/**
 * - `wrongHost`: signed by the trusted test CA, but for a name that is not 127.0.0.1.
 * - `expired`: signed by the trusted test CA for 127.0.0.1, but its validity ended yesterday.
 */
export type BadTlsKind = 'wrongHost' | 'expired';

export interface BadTlsServer {
  origin: string;
  /** For --vault-url / AZ_KEYVAULT_BACKUP_VAULT_URL. */
  vaultUrlTemplate: string;
  /** Completed TLS handshakes: a client that verifies certificates never completes one. */
  readonly handshakes: number;
  /** HTTP requests received: proof that nothing (no token, no request) got through. */
  readonly requests: number;
  close(): Promise<void>;
}

/**
 * A listener whose certificate a correct client must refuse, although it is
 * issued by the CA the client trusts (the same NODE_EXTRA_CA_CERTS file as the
 * local vault), so the refusal can only come from the name or date check.
 */
export async function startBadTlsServer(kind: BadTlsKind): Promise<BadTlsServer> {
  const tls = await tlsMaterial();
  const cert = await signBadLeaf(tls.dir, kind);
  let handshakes = 0;
  let requests = 0;
  const server: Server = createServer({ cert, key: tls.key }, (_req, res) => {
    requests += 1;
    // Anything that got this far is a bug; a 400 is not retried, so the failure is loud and fast.
    res.writeHead(400, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'BadTlsServer', message: 'this server must never be reached' } }));
  });
  server.on('secureConnection', () => {
    handshakes += 1;
  });
  // Clients that refuse the certificate abort the handshake; that is the expected case.
  server.on('tlsClientError', () => undefined);
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
  const origin = `https://127.0.0.1:${port}`;
  return {
    origin,
    vaultUrlTemplate: `${origin}/{vault}`,
    get handshakes() {
      return handshakes;
    },
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function signBadLeaf(dir: string, kind: BadTlsKind): Promise<string> {
  const tag = `${kind}-${randomBytes(4).toString('hex')}`;
  const ext = join(dir, `${tag}.ext`);
  const out = join(dir, `${tag}.pem`);
  const san = kind === 'wrongHost' ? 'DNS:not-this-host.example' : 'IP:127.0.0.1,DNS:localhost';
  await writeFile(ext, [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    `subjectAltName=${san}`,
    '',
  ].join('\n'), { mode: 0o600 });
  // -days -1 puts notAfter a day in the past: an expired certificate without faking the clock.
  await run('openssl', [
    'x509', '-req', '-in', join(dir, 'server.csr'), '-CA', join(dir, 'ca.pem'), '-CAkey', join(dir, 'ca.key'),
    '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', kind === 'expired' ? '-1' : '7', '-sha256',
    '-extfile', ext, '-out', out,
  ]);
  return readFile(out, 'utf8');
}
