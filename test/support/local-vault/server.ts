import { randomBytes, randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';

import { answerCertificate } from './certificates.js';
import { badParameter, errorFor, throttled, type ErrorContext } from './errors.js';
import { describeFault, FaultState } from './faults.js';
import { reply, type Reply } from './http-util.js';
import { blobKey, type ItemRequest } from './item-request.js';
import { VaultItems } from './items.js';
import { answerKey } from './keys.js';
import type { Space } from './kinds.js';
import { answerLifecycle } from './lifecycle.js';
import { parseRoute, SECRET_NAME, VAULT_NAME, type Route } from './routes.js';
import { answerSecret } from './secrets.js';
import { handleAuthority, isAuthorityPath, type ClientRegistry } from './authority.js';
import { isVaultHost, tlsMaterial, type TlsMaterial } from './tls.js';
import { hsmResourceForHost, KNOWN_RESOURCES, resourceForHost, TokenIssuer } from './tokens.js';
import type {
  CertificateSeed,
  Fault,
  ItemKind,
  ItemState,
  KeySeed,
  LocalVault,
  LocalVaultOptions,
  Operation,
  RequestRecord,
  SeededVersion,
  VaultScope,
  Where,
} from './types.js';

const MAX_BODY = 32 * 1024 * 1024;
const MSI_API_VERSION = '2019-08-01';

export async function startLocalVault(opts: LocalVaultOptions = {}): Promise<LocalVault> {
  const server = new LocalVaultServer(await tlsMaterial(), opts);
  await server.listen();
  return server;
}

class LocalVaultServer implements LocalVault {
  origin = '';
  vaultUrlTemplate = '';
  hsmUrlTemplate = '';
  identityEndpoint = '';
  readonly identityHeader = randomBytes(24).toString('base64url');
  readonly tenantId: string;
  readonly caFile: string;
  readonly caPem: string;
  readonly faults: FaultState;

  private records: RequestRecord[] = [];
  private readonly issuer: TokenIssuer;
  private readonly items = new VaultItems();
  private readonly blobs = new Map<string, Buffer>();
  private readonly clients: ClientRegistry = new Map();
  private readonly servers: Server[] = [];
  private port = 0;
  private inFlight = 0;
  private inFlightPeak = 0;

  constructor(
    private readonly tls: TlsMaterial,
    opts: LocalVaultOptions,
  ) {
    this.tenantId = opts.tenantId ?? randomUUID();
    this.issuer = new TokenIssuer(this.tenantId);
    this.faults = new FaultState(opts.latencyMs ?? 0);
    this.caFile = tls.caFile;
    this.caPem = tls.caPem;
  }

  get requests(): RequestRecord[] {
    return this.records;
  }

  async listen(): Promise<void> {
    const onVault = (req: IncomingMessage, res: ServerResponse): void => {
      this.handleVault(req, res).catch((err: unknown) => this.crash(res, err));
    };
    const tlsOptions = { cert: this.tls.cert, key: this.tls.key, SNICallback: this.sni() };
    const v4 = createHttpsServer(tlsOptions, onVault);
    this.port = await listenOn(v4, 0, '127.0.0.1');
    this.servers.push(v4);
    // Same port on ::1 so "localhost" works whichever family the client tries first.
    const v6 = createHttpsServer(tlsOptions, onVault);
    await listenOn(v6, this.port, '::1').then(
      () => this.servers.push(v6),
      () => undefined,
    );
    const identity = createHttpServer((req, res) => {
      this.handleIdentity(req, res).catch((err: unknown) => this.crash(res, err));
    });
    const identityPort = await listenOn(identity, 0, '127.0.0.1');
    this.servers.push(identity);

    this.origin = `https://127.0.0.1:${this.port}`;
    this.vaultUrlTemplate = `${this.origin}/{vault}`;
    this.hsmUrlTemplate = `${this.origin}/hsm/{vault}`;
    this.identityEndpoint = `http://127.0.0.1:${identityPort}/msi/token`;
  }

  /** `<vault>.localhost` (or a vault host of a real cloud, for proxy tests) gets a certificate naming it; any other name gets the default one. */
  private sni(): (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void {
    const contexts = new Map<string, Promise<SecureContext>>();
    return (servername, cb) => {
      const host = servername.toLowerCase();
      if (!isVaultHost(host)) {
        cb(null, undefined);
        return;
      }
      let ctx = contexts.get(host);
      if (!ctx) {
        ctx = this.tls.certFor(host).then((cert) => createSecureContext({ cert, key: this.tls.key }));
        contexts.set(host, ctx);
      }
      // A name we cannot certify falls back to the default certificate, whose mismatch the client reports.
      ctx.then((c) => cb(null, c), () => cb(null, undefined));
    };
  }

  env(): Record<string, string> {
    return {
      NODE_EXTRA_CA_CERTS: this.caFile,
      AZ_KEYVAULT_BACKUP_VAULT_URL: this.vaultUrlTemplate,
      AZ_KEYVAULT_BACKUP_HSM_URL: this.hsmUrlTemplate,
      IDENTITY_ENDPOINT: this.identityEndpoint,
      IDENTITY_HEADER: this.identityHeader,
    };
  }

  setSecret(vault: string, name: string, value: string): void {
    this.items.addSecret(vault, name, value);
  }

  /** The secret a certificate of that name creates with itself (managed: true): its backup is refused. */
  setCertificateSecret(vault: string, name: string, value: string): void {
    this.items.addSecret(vault, name, value, { managed: true });
  }

  /** Gone at once, without soft delete, so the name is free again (deleteItem is the service's delete). */
  deleteSecret(vault: string, name: string): void {
    this.items.secrets.remove(vault, name);
  }

  lastBackupBlob(vault: string, name: string, opts: { kind?: ItemKind } & Where = {}): Buffer | undefined {
    return this.blobs.get(blobKey(opts.kind ?? 'secret', spaceOf(opts), vault, name));
  }

  setKey(vault: string, name: string, opts: KeySeed = {}): SeededVersion {
    const { hsm, ...seed } = opts;
    const space = spaceOf({ hsm });
    const { item, version } = this.items.addKey(space, vault, name, seed);
    return { name: item.name, version: version.version, id: `${this.idBase(space, vault)}/keys/${item.name}/${version.version}` };
  }

  setCertificate(vault: string, name: string, opts: CertificateSeed = {}): SeededVersion {
    const { item, version } = this.items.addCertificate(vault, name, opts);
    return { name: item.name, version: version.version, id: `${this.idBase('vault', vault)}/certificates/${item.name}/${version.version}` };
  }

  deleteItem(kind: ItemKind, vault: string, name: string, where: Where = {}): boolean {
    return this.items.softDelete(kind, spaceOf(where), vault, name) !== undefined;
  }

  purgeItem(kind: ItemKind, vault: string, name: string, where: Where = {}): boolean {
    return this.items.purge(kind, spaceOf(where), vault, name);
  }

  itemVersions(kind: ItemKind, vault: string, name: string, where: Where = {}): string[] {
    const store = this.items.store(kind, spaceOf(where));
    const item = store.find(vault, name) ?? store.deleted(vault, name)?.item;
    return item ? item.versions.map((v) => v.version) : [];
  }

  itemState(kind: ItemKind, vault: string, name: string, where: Where = {}): ItemState {
    return this.items.state(kind, spaceOf(where), vault, name);
  }

  setPurgeLinger(ms: number): void {
    this.items.purgeLingerMs = Math.max(0, ms);
  }

  setVaultScope(vault: string, scope: VaultScope, where: Where = {}): void {
    this.items.setScope(spaceOf(where), vault, scope);
  }

  clearRequests(): void {
    this.records = [];
    this.inFlightPeak = this.inFlight;
  }

  inFlightMax(): number {
    return this.inFlightPeak;
  }

  issueToken(opts: { expiresInSeconds?: number; audience?: string } = {}): { token: string; expiresOn: number } {
    return this.issuer.issue(opts.expiresInSeconds, opts.audience);
  }

  addClient(clientId: string, secret: string): void {
    this.clients.set(clientId, secret);
  }

  async close(): Promise<void> {
    await Promise.all(
      this.servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            // Also ends hanging requests and idle keep-alive sockets, or close() would wait for them.
            server.closeAllConnections();
          }),
      ),
    );
  }

  // ---- the vault endpoint -------------------------------------------------

  private async handleVault(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://local');
    if (isAuthorityPath(url.pathname)) {
      const record = this.record(req, 'token');
      const answer = await handleAuthority(req, url, { clients: this.clients, issuer: this.issuer, tenantId: this.tenantId }, await readBody(req));
      if (answer.authorized) record.authorized = true;
      this.send(res, record, answer);
      return;
    }
    const route = parseRoute(req.method ?? 'GET', req.headers.host, url.pathname);
    const record = this.record(req, route.operation, route.vault, route.name);
    if (route.kind) record.kind = route.kind;
    if (route.space === 'hsm') record.hsm = true;
    if (route.operation === 'backup') this.trackInFlight(res);

    const body = await readBody(req);
    if (this.faults.latencyMs > 0) await sleep(this.faults.latencyMs);

    const auth = this.issuer.check(req.headers.authorization, resourceFor(route, req.headers.host));
    if (!auth.ok) {
      const message =
        auth.reason === 'missing'
          ? 'AKV10000: Request is missing a Bearer or PoP token.'
          : auth.reason === 'expired'
            ? 'AKV10022: Invalid token: the token has expired.'
            : 'AKV10022: Invalid audience or issuer: the token was not issued for this vault.';
      this.send(res, record, { status: 401, body: { error: { code: 'Unauthorized', message } }, headers: this.challengeHeader(resourceFor(route, req.headers.host)) });
      return;
    }
    record.authorized = true;

    const fault = this.faults.take({ vault: route.vault, name: route.name, operation: route.operation, kind: route.kind });
    if (fault) {
      record.fault = describeFault(fault);
      this.applyFault(req, res, record, fault, route, () => this.answer(route, url, body, record));
      return;
    }
    if (route.vault && route.operation) {
      // An HSM is its own service with its own limit, even under a vault's name.
      const wait = this.faults.throttle(route.space === 'hsm' ? `hsm/${route.vault}` : route.vault);
      if (wait !== undefined) {
        this.send(res, record, { status: 429, body: throttled(), headers: { 'retry-after': String(wait) } });
        return;
      }
    }
    this.send(res, record, this.answer(route, url, body, record));
  }

  private answer(route: Route, url: URL, body: Buffer, record: RequestRecord): Reply {
    const apiVersion = url.searchParams.get('api-version');
    if (route.miss === 'vault' || !route.vault) {
      return reply(400, badParameter(`The request names no vault: use ${this.origin}/{vault}/secrets/... or https://{vault}.localhost:${this.port}/secrets/...`));
    }
    if (route.miss === 'path' || !route.kind || !route.action) return reply(404, { error: { code: 'NotFound', message: `No such resource: ${url.pathname}` } });
    if (route.miss === 'method') return reply(405, { error: { code: 'MethodNotAllowed', message: `The method ${record.method} is not allowed here.` } });
    if (!apiVersion) return reply(400, badParameter('The api-version query parameter is missing.'));
    if (!VAULT_NAME.test(route.vault)) return reply(400, badParameter(`The ${route.space === 'hsm' ? 'HSM' : 'vault'} name '${route.vault}' is invalid.`));
    if (route.name !== undefined && !SECRET_NAME.test(route.name)) {
      return reply(400, badParameter(`The ${route.kind} name '${route.name}' is invalid. It must be 1-127 letters, digits and hyphens.`));
    }
    const req: ItemRequest = {
      items: this.items,
      vault: route.vault,
      space: route.space,
      kind: route.kind,
      action: route.action,
      name: route.name ?? '',
      ...(route.version ? { version: route.version } : {}),
      url,
      body,
      record,
      apiVersion,
      idBase: this.idBase(route.space, route.vault),
      base: route.base,
      blobs: this.blobs,
    };
    const answer =
      answerLifecycle(req) ??
      (route.kind === 'secret' ? answerSecret(req) : route.kind === 'key' ? answerKey(req) : answerCertificate(req));
    return answer ?? reply(404, { error: { code: 'NotFound', message: `No such resource: ${url.pathname}` } });
  }

  /** Ids always use the host form, which the SDK's identifier parser (and -Id) understand; an HSM's is `<hsm>.managedhsm.localhost`. */
  private idBase(space: Space, vault: string): string {
    return `https://${vault.toLowerCase()}${space === 'hsm' ? '.managedhsm' : ''}.localhost:${this.port}`;
  }

  /** The resource is the cloud's own for its vault hosts, so the SDK's resource check passes only for the right cloud. */
  private challengeHeader(resource: string): Record<string, string> {
    return {
      'www-authenticate': `Bearer authorization="https://login.microsoftonline.com/${this.tenantId}", resource="${resource}"`,
    };
  }

  // ---- the managed-identity endpoint -----------------------------------------

  private async handleIdentity(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const record = this.record(req, 'token');
    await readBody(req);
    const url = new URL(req.url ?? '/', 'http://local');
    const fault = this.faults.take({ operation: 'token' });
    if (fault && (fault.kind === 'hang' || fault.kind === 'reset')) {
      record.fault = describeFault(fault);
      this.applyFault(req, res, record, fault, TOKEN_ROUTE, () => reply(500, {}));
      return;
    }
    const answer = (): Reply => this.tokenAnswer(req, url);
    if (req.headers['x-identity-header'] === this.identityHeader) record.authorized = true;
    if (fault && record.authorized) {
      record.fault = describeFault(fault);
      this.applyFault(req, res, record, fault, TOKEN_ROUTE, answer);
      return;
    }
    this.send(res, record, answer());
  }

  private tokenAnswer(req: IncomingMessage, url: URL): Reply {
    if (url.pathname !== '/msi/token') return reply(404, { error: { code: 'NotFound', message: `No such resource: ${url.pathname}` } });
    if (req.method !== 'GET') return reply(405, { error: { code: 'MethodNotAllowed', message: 'Use GET.' } });
    if (req.headers['x-identity-header'] !== this.identityHeader) {
      return reply(401, { error: { code: 'UnauthorizedRequest', message: 'The X-IDENTITY-HEADER header is missing or does not match.' } });
    }
    if (url.searchParams.get('api-version') !== MSI_API_VERSION) {
      return reply(400, { error: { code: 'BadRequest', message: `api-version must be ${MSI_API_VERSION}.` } });
    }
    const resource = (url.searchParams.get('resource') ?? '').replace(/\/+$/, '');
    if (!KNOWN_RESOURCES.includes(resource)) {
      return reply(400, {
        error: 'invalid_resource',
        error_description: `AADSTS500011: The resource principal named ${resource} was not found in the tenant named ${this.tenantId}.`,
      });
    }
    const { token, expiresOn } = this.issuer.issue(3600, resource);
    // App Service sends expires_on as a string of epoch seconds; MSAL accepts that (or ISO 8601).
    return reply(200, {
      access_token: token,
      expires_on: String(expiresOn),
      resource,
      token_type: 'Bearer',
      client_id: this.issuer.appId,
    });
  }

  // ---- shared plumbing --------------------------------------------------------

  private record(req: IncomingMessage, operation?: Operation, vault?: string, name?: string): RequestRecord {
    const record: RequestRecord = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      status: 0,
      authorized: false,
      startedAt: Date.now(),
      endedAt: 0,
      ...(vault !== undefined ? { vault } : {}),
      ...(name !== undefined ? { name } : {}),
      ...(operation !== undefined ? { operation } : {}),
    };
    this.records.push(record);
    return record;
  }

  private trackInFlight(res: ServerResponse): void {
    this.inFlight += 1;
    this.inFlightPeak = Math.max(this.inFlightPeak, this.inFlight);
    res.once('close', () => {
      this.inFlight -= 1;
    });
  }

  private applyFault(
    req: IncomingMessage,
    res: ServerResponse,
    record: RequestRecord,
    fault: Fault,
    route: Pick<Route, 'operation' | 'vault' | 'name' | 'kind' | 'space'>,
    real: () => Reply,
  ): void {
    const { operation, vault, name, kind } = route;
    switch (fault.kind) {
      case 'reset':
        record.endedAt = Date.now();
        req.socket.destroy();
        return;
      case 'hang':
        // Left open until the client gives up or close() ends every connection.
        res.once('close', () => {
          record.endedAt = Date.now();
        });
        return;
      case 'resetMidBody': {
        const answer = real();
        const payload = Buffer.from(JSON.stringify(answer.body));
        record.status = answer.status;
        record.endedAt = Date.now();
        res.writeHead(answer.status, { ...baseHeaders(), 'content-type': 'application/json; charset=utf-8', 'content-length': String(payload.length) });
        res.write(payload.subarray(0, Math.floor(payload.length / 2)), () => req.socket.destroy());
        return;
      }
      case 'body':
        this.send(res, record, { status: fault.status ?? 200, body: fault.body, contentType: fault.contentType ?? 'application/json; charset=utf-8' });
        return;
      case 'endless': {
        record.status = 200;
        res.writeHead(200, { ...baseHeaders(), 'content-type': 'application/json; charset=utf-8' });
        res.write('{"value":"');
        const chunk = Buffer.alloc(1024 * 1024, 'A');
        let sent = 0;
        const pump = (): void => {
          // Stops when the client hangs up (or after 1 GiB, so a broken client cannot fill the disk of the test machine).
          while (!res.destroyed && sent < 1024 && res.write(chunk)) sent++;
          if (!res.destroyed && sent < 1024) res.once('drain', pump);
          else res.end();
        };
        res.once('close', () => {
          record.endedAt = Date.now();
        });
        pump();
        return;
      }
      case 'status': {
        const ctx: ErrorContext = {
          tenantId: this.tenantId,
          objectId: this.issuer.objectId,
          appId: this.issuer.appId,
          ...(operation ? { operation } : {}),
          ...(kind ? { kind } : {}),
          ...(vault ? { vault } : {}),
          ...(name ? { name } : {}),
        };
        const headers: Record<string, string> = {
          ...(fault.status === 401 ? this.challengeHeader(resourceFor(route, req.headers.host)) : {}),
          ...(fault.retryAfter !== undefined ? { 'retry-after': String(fault.retryAfter) } : {}),
          ...fault.headers,
        };
        this.send(res, record, { status: fault.status, body: errorFor(fault.status, ctx, fault.code, fault.message), headers });
        return;
      }
    }
  }

  private send(res: ServerResponse, record: RequestRecord, answer: Reply): void {
    // Filled in before writing so a test that reads the log right after its call sees the answer.
    record.status = answer.status;
    record.endedAt = Date.now();
    if (res.destroyed) return;
    const payload = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
    res.writeHead(answer.status, {
      ...baseHeaders(),
      'content-type': answer.contentType ?? 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(payload)),
      ...answer.headers,
    });
    res.end(payload);
  }

  private crash(res: ServerResponse, err: unknown): void {
    // A bug in the stand-in must be loud in the test output, never a silent hang.
    process.stderr.write(`local vault: internal error: ${err instanceof Error ? err.stack : String(err)}\n`);
    if (!res.headersSent && !res.destroyed) {
      res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify({ error: { code: 'InternalServerError', message: 'local vault internal error' } }));
    }
  }
}

const TOKEN_ROUTE = { operation: 'token', space: 'vault' } as const;

function spaceOf(where: Where): Space {
  return where.hsm ? 'hsm' : 'vault';
}

/** The token audience a request needs: an HSM's resource for HSM routes, else the vault host's cloud's. */
function resourceFor(route: Pick<Route, 'space'>, host: string | undefined): string {
  return route.space === 'hsm' ? hsmResourceForHost(host) : resourceForHost(host);
}

function baseHeaders(): Record<string, string> {
  return {
    'cache-control': 'no-cache',
    'x-ms-request-id': randomUUID(),
    'x-ms-keyvault-service-version': '1.9.0.0',
    'x-ms-keyvault-region': 'local',
  };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
    // A client that resets mid-upload just leaves an empty body.
    req.on('close', () => resolve(Buffer.concat(chunks)));
  });
}

function listenOn(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
