import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TlsMaterial {
  dir: string;
  /** Certificate (same key) naming exactly `host`, for SNI: Node refuses `*.localhost` as too broad a wildcard. */
  certFor(host: string): Promise<string>;
  caFile: string;
  caPem: string;
  cert: string;
  key: string;
}

// One CA per process: every vault started in a test run shares it, so a child
// process given NODE_EXTRA_CA_CERTS once trusts them all.
let cached: Promise<TlsMaterial> | undefined;

export function tlsMaterial(): Promise<TlsMaterial> {
  cached ??= generate().catch((err: unknown) => {
    cached = undefined;
    throw err;
  });
  return cached;
}

async function generate(): Promise<TlsMaterial> {
  // mkdtemp creates the directory 0700; the keys never leave it.
  const dir = await mkdtemp(join(tmpdir(), 'azkvb-local-vault-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const p = (f: string): string => join(dir, f);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

  await run('openssl', [
    'req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '7',
    '-subj', '/CN=az-keyvault-backup local test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await run('openssl', [
    'req', '-new', ...ec, '-keyout', p('server.key'), '-out', p('server.csr'),
    '-subj', '/CN=localhost',
  ]);
  await writeFile(p('server.ext'), [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost,DNS:*.localhost',
    '',
  ].join('\n'), { mode: 0o600 });
  await run('openssl', [
    'x509', '-req', '-in', p('server.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'),
    '-set_serial', `0x${Date.now().toString(16)}`, '-days', '7', '-sha256',
    '-extfile', p('server.ext'), '-out', p('server.pem'),
  ]);
  await Promise.all(['ca.key', 'server.key'].map((f) => chmod(p(f), 0o600)));

  const [caPem, cert, key] = await Promise.all(
    ['ca.pem', 'server.pem', 'server.key'].map((f) => readFile(p(f), 'utf8')),
  );
  const perHost = new Map<string, Promise<string>>();
  const certFor = (host: string): Promise<string> => {
    const name = host.toLowerCase();
    if (!isVaultHost(name)) return Promise.reject(new Error(`not a vault host: ${host}`));
    let pending = perHost.get(name);
    if (!pending) {
      pending = signLeaf(dir, name);
      perHost.set(name, pending);
    }
    return pending;
  };
  return { dir, certFor, caFile: p('ca.pem'), caPem: caPem!, cert: cert!, key: key! };
}

/**
 * `<vault>.localhost`, or a vault name under a real cloud's suffix: tests reach
 * those through a CONNECT proxy (HTTPS_PROXY) so the executable addresses the
 * real host name, and only processes told to trust this test CA accept it.
 */
export function isVaultHost(host: string): boolean {
  const name = host.toLowerCase();
  // `<hsm>.managedhsm.localhost` is the host of the ids a Managed HSM hands out.
  return /^[a-z0-9-]{1,63}\.(localhost|vault\.azure\.net|vault\.azure\.cn|vault\.usgovcloudapi\.net)$/.test(name) ||
    /^[a-z0-9-]{1,63}\.managedhsm\.(localhost|azure\.net|azure\.cn|usgovcloudapi\.net)$/.test(name);
}

async function signLeaf(dir: string, host: string): Promise<string> {
  const ext = join(dir, `${host}.ext`);
  const out = join(dir, `${host}.pem`);
  await writeFile(ext, [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    `subjectAltName=DNS:${host},DNS:localhost,IP:127.0.0.1,IP:::1`,
    '',
  ].join('\n'), { mode: 0o600 });
  await run('openssl', [
    'x509', '-req', '-in', join(dir, 'server.csr'), '-CA', join(dir, 'ca.pem'), '-CAkey', join(dir, 'ca.key'),
    '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '7', '-sha256', '-extfile', ext, '-out', out,
  ]);
  return readFile(out, 'utf8');
}
