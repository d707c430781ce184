import { Agent, createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { LocalVault } from '../support/local-vault/index.js';
import { tlsMaterial } from '../support/local-vault/tls.js';

export interface BearerRecord {
  method: string;
  /** Path and query as received (path form: /<vault>/secrets/<name>/backup?...). */
  url: string;
  /** The bearer token the request carried, or null for one without (the challenge probe). */
  bearer: string | null;
  /** The vault's answer. */
  status: number;
}

export interface BearerRecorder {
  /** For AZ_KEYVAULT_BACKUP_VAULT_URL: the local vault's path form, through this recorder. */
  readonly vaultUrlTemplate: string;
  readonly records: BearerRecord[];
  close(): Promise<void>;
}

/**
 * An HTTPS reverse proxy in front of a local vault that records which bearer token each request
 * carried (the vault's own request log does not say), so a test can tell which of several valid
 * tokens reached the vault for which backup. It serves the local vault's certificate (127.0.0.1),
 * so the client's TLS check stays on; the records stay in this process's memory.
 */
export async function startBearerRecorder(vault: LocalVault): Promise<BearerRecorder> {
  const tls = await tlsMaterial();
  const target = new URL(vault.origin);
  const agent = new Agent({ keepAlive: true, ca: tls.caPem });
  const records: BearerRecord[] = [];
  const server: Server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const auth = req.headers.authorization;
      const match = auth ? /^Bearer\s+(\S+)$/i.exec(auth.trim()) : null;
      const record: BearerRecord = { method: req.method ?? 'GET', url: req.url ?? '/', bearer: match?.[1] ?? null, status: 0 };
      records.push(record);
      const headers = { ...req.headers, host: target.host };
      const upstream = request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent },
        (answer) => {
          record.status = answer.statusCode ?? 0;
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      res.on('close', () => upstream.destroy());
      upstream.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    vaultUrlTemplate: `https://127.0.0.1:${port}/{vault}`,
    records,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      }),
  };
}
