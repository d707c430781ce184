import * as path from 'node:path';
import { decodeBase64Url } from '../../src/core/base64url.js';
import { normaliseRequest, type BackupRequest } from '../../src/core/backup.js';
import { BackupError } from '../../src/core/errors.js';
import { resolveTarget } from '../../src/core/file-name.js';
import { validateSecretName, validateVaultName } from '../../src/core/names.js';
import { parseSecretId, validateDnsSuffix, validateOverride, vaultEndpoint, type VaultAddressing } from '../../src/core/vault-address.js';
import { parseLine } from '../../src/protocol/messages.js';

// Seeded, deterministic fuzzing of everything that reads untrusted input:
// protocol lines, names, secret identifiers, vault addresses, request fields
// and paths. Each target checks: only BackupError is ever thrown (no crash),
// no single call is slow (no catastrophic regex), every input an independent
// oracle calls invalid is refused, and no resolved path leaves its directory.

export type Rng = () => number;

/** mulberry32: tiny, fast, and the same sequence on every machine for a seed. */
export function rng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const int = (r: Rng, n: number) => Math.floor(r() * n);
const pick = <T>(r: Rng, items: readonly T[]): T => items[int(r, items.length)]!;

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
// Pieces that have broken parsers and path handling somewhere: separators,
// dot segments, encodings, controls, look-alikes, surrogates, BOM, RTL override.
const NASTY = [
  '/', '\\', '..', '.', '?', '#', '%', '%2F', '%2f', '%2E%2E', '%00', ' ', '\t', '\n', '\r', '\u0000', '\u0001', '\u007f',
  '\u0085', '\u00a0', '\u200b', '\u202e', '\ufeff', 'é', 'İ', 'ß', 'ｍ', '😀', '\ud800', ':', '@', '_', '~', '&', '=', '+', '*',
  '"', "'", '<', '>', '|', '{vault}', '${x}', '$(x)', 'C:\\', '//', '::', '[', ']', '-', '--',
];

function token(r: Rng): string {
  const roll = r();
  if (roll < 0.55) return ALNUM[int(r, ALNUM.length)]!;
  if (roll < 0.7) return '-';
  return pick(r, NASTY);
}

export function randomText(r: Rng, maxTokens: number): string {
  const n = int(r, maxTokens + 1);
  let s = '';
  for (let i = 0; i < n; i++) s += token(r);
  return s;
}

/** A string that is valid, almost valid (one mutation), or noise; the oracle decides which. */
function nameLike(r: Rng, maxLength: number): string {
  const roll = r();
  if (roll < 0.35) {
    let s = pick(r, ['a', 'B', 'z', 'Q']);
    const n = int(r, maxLength + 3);
    for (let i = 1; i < n; i++) s += r() < 0.15 ? '-' : ALNUM[int(r, ALNUM.length)]!;
    return s;
  }
  if (roll < 0.8) {
    const base = nameLike(r, maxLength);
    if (base.length === 0) return token(r);
    const at = int(r, base.length + 1);
    return base.slice(0, at) + token(r) + base.slice(at + (r() < 0.5 ? 1 : 0));
  }
  return randomText(r, int(r, 2) === 0 ? 8 : 40);
}

// Independent oracles, written from the service's documented rules rather than from the code under test.
export function vaultNameIsValid(s: string): boolean {
  if (s.length < 3 || s.length > 24) return false;
  for (const c of s) if (!ALNUM.includes(c) && c !== '-') return false;
  return /[a-zA-Z]/.test(s[0]!) && s[s.length - 1] !== '-' && !s.includes('--');
}

export function secretNameIsValid(s: string): boolean {
  if (s.length < 1 || s.length > 127) return false;
  for (const c of s) if (!ALNUM.includes(c) && c !== '-') return false;
  return true;
}

const SLOW_MS = 250;

export class FuzzFailure extends Error {}

function fail(target: string, input: unknown, why: string): never {
  throw new FuzzFailure(`${target}: ${why}\n  input: ${JSON.stringify(input)}`);
}

/** Runs fn on input; returns the value, or undefined if it threw a BackupError of an allowed kind. */
function guarded<T>(target: string, input: unknown, kinds: readonly string[], fn: () => T): { ok: true; value: T } | { ok: false; error: BackupError } {
  const started = performance.now();
  let outcome: { ok: true; value: T } | { ok: false; error: BackupError };
  try {
    outcome = { ok: true, value: fn() };
  } catch (error) {
    if (!(error instanceof BackupError)) fail(target, input, `threw ${String(error)} instead of a BackupError`);
    if (!kinds.includes(error.kind)) fail(target, input, `threw kind ${error.kind}, expected one of ${kinds.join(', ')}`);
    if (error.message.length === 0) fail(target, input, 'an error without a message');
    outcome = { ok: false, error };
  }
  const ms = performance.now() - started;
  if (ms > SLOW_MS) fail(target, input, `took ${ms.toFixed(0)} ms`);
  return outcome;
}

const ADDRESSINGS: VaultAddressing[] = [
  { dnsSuffix: 'vault.azure.net' },
  { dnsSuffix: 'vault.azure.cn' },
  { dnsSuffix: 'vault.azure.net', override: 'https://127.0.0.1:8443/{vault}' },
];
// The configured cloud's suffix and every known Azure cloud's: an identifier may name any of them.
const ALLOWED_SUFFIXES = (a: VaultAddressing) => [a.dnsSuffix, ...['vault.azure.net', 'vault.azure.cn', 'vault.usgovcloudapi.net', 'vault.microsoftazure.de'].filter((s) => s !== a.dnsSuffix)];

function validName(r: Rng, maxLength: number): string {
  let s = pick(r, ['a', 'B', 'z', 'Q']);
  const n = 3 + int(r, maxLength - 2);
  for (let i = 1; i < n; i++) s += r() < 0.1 && !s.endsWith('-') ? '-' : ALNUM[int(r, ALNUM.length)]!;
  return s.endsWith('-') ? `${s.slice(0, -1)}x` : s;
}

/**
 * An identifier built from parts, all valid but (usually) one: then the
 * oracle knows whether it must be accepted, refused, or (for mutations whose
 * effect depends on URL parsing) only that the safety properties hold.
 */
function secretIdLike(r: Rng): { id: string; valid?: boolean; addressing: VaultAddressing } {
  const addressing = pick(r, ADDRESSINGS);
  if (r() < 0.15) return { id: r() < 0.5 ? randomText(r, 60) : `https://${randomText(r, 20)}/secrets/${randomText(r, 20)}`, addressing };
  const broken = pick(r, ['none', 'none', 'vault', 'name', 'scheme', 'suffix', 'port', 'userinfo', 'version', 'tail', 'collection', 'noise']);
  const part = <T>(which: string, good: readonly T[], bad: readonly T[]): T => pick(r, broken === which ? bad : good);
  const vault = broken === 'vault' ? nameLike(r, 24) : validName(r, 24);
  const name = broken === 'name' ? nameLike(r, 127) : validName(r, 40);
  const suffixes = ALLOWED_SUFFIXES(addressing);
  const scheme = part('scheme', ['https://', 'HTTPS://'], ['http://', 'ftp://', '', 'https:/', 'https:\\\\']);
  const suffix = part('suffix', [...suffixes, suffixes[0]!.toUpperCase()], ['evil.example.com', `${suffixes[0]}.evil.example.com`, `${suffixes[0]}.`, 'localhost', 'azure.net', 'vault.azure.com']);
  const port = part('port', ['', ':443', ':'], [':8443', ':1']);
  const userinfo = part('userinfo', [''], ['user@', 'user:pw@', `${vault}.${suffixes[0]}@`]);
  const version = part('version', ['', '/', '/0123456789abcdef0123456789abcdef'], ['/v!', '/a/b', `/${'a'.repeat(65)}`]);
  const tail = part('tail', [''], ['?x=1', '#f', '?', '#']);
  const collection = part('collection', ['secrets', 'Secrets'], ['keys', 'certificates', '', 'secret']);
  let id = `${scheme}${userinfo}${vault}.${suffix}${port}/${collection}/${name}${version}${tail}`;
  if (broken === 'noise') {
    const at = int(r, id.length + 1);
    id = id.slice(0, at) + token(r) + id.slice(at);
  }
  // A bad vault or name made of letters, digits and hyphens only changes nothing else, so it must be refused;
  // other mutations may be normalised away by URL parsing (a tab, a dot segment), so no claim is made.
  const plain = (text: string) => /^[A-Za-z0-9-]*$/.test(text);
  const refusedSurely =
    ['scheme', 'suffix', 'port', 'userinfo', 'version', 'tail', 'collection'].includes(broken) ||
    (broken === 'vault' && plain(vault) && !vaultNameIsValid(vault)) ||
    (broken === 'name' && plain(name) && !secretNameIsValid(name));
  const validSurely = broken === 'none' || (broken === 'vault' && vaultNameIsValid(vault)) || (broken === 'name' && secretNameIsValid(name));
  return { id, valid: validSurely ? true : refusedSurely ? false : undefined, addressing };
}

export interface FuzzStats {
  iterations: number;
  accepted: Record<string, number>;
  refused: Record<string, number>;
}

/** One iteration over every target; throws FuzzFailure on the first violated property. */
export function fuzzOnce(r: Rng, stats: FuzzStats): void {
  const count = (target: string, ok: boolean) => {
    const bucket = ok ? stats.accepted : stats.refused;
    bucket[target] = (bucket[target] ?? 0) + 1;
  };

  // Names.
  const vaultName = nameLike(r, 24);
  const v = guarded('validateVaultName', vaultName, ['InvalidArgument'], () => validateVaultName(vaultName));
  count('vault name', v.ok);
  if (v.ok !== vaultNameIsValid(vaultName)) fail('validateVaultName', vaultName, v.ok ? 'accepted an invalid name' : 'refused a valid name');
  if (!v.ok && vaultName.length > 0 && !v.error.message.includes(JSON.stringify(vaultName).slice(0, 15))) {
    fail('validateVaultName', vaultName, `the message does not quote the name: ${v.error.message}`);
  }
  const secretName = nameLike(r, 127);
  const s = guarded('validateSecretName', secretName, ['InvalidArgument'], () => validateSecretName(secretName));
  count('secret name', s.ok);
  if (s.ok !== secretNameIsValid(secretName)) fail('validateSecretName', secretName, s.ok ? 'accepted an invalid name' : 'refused a valid name');

  // Secret identifiers: never a host outside the allowed suffixes, never a name the naming rules refuse.
  const { id, valid, addressing } = secretIdLike(r);
  const p = guarded('parseSecretId', { id, addressing }, ['InvalidArgument'], () => parseSecretId(id, addressing));
  count('secret id', p.ok);
  if (valid === true && !p.ok) fail('parseSecretId', { id, addressing }, `refused a valid identifier: ${p.error.message}`);
  if (valid === false && p.ok) fail('parseSecretId', { id, addressing }, `accepted an invalid identifier as ${JSON.stringify(p.value)}`);
  if (p.ok) {
    if (!vaultNameIsValid(p.value.vaultName) || !secretNameIsValid(p.value.name)) fail('parseSecretId', id, `accepted invalid names ${JSON.stringify(p.value)}`);
    if (!/^[\x21-\x7e]+$/.test(id)) fail('parseSecretId', id, 'accepted an identifier with spaces, control or non-ASCII characters');
    const host = new URL(id).hostname.toLowerCase();
    if (!ALLOWED_SUFFIXES(addressing).some((suffix) => host === `${p.value.vaultName.toLowerCase()}.${suffix}`)) {
      fail('parseSecretId', id, `accepted host ${host} for vault ${p.value.vaultName}`);
    }
    const endpoint = vaultEndpoint(p.value.vaultName, p.value.dnsSuffix !== undefined ? { ...addressing, dnsSuffix: p.value.dnsSuffix } : addressing);
    if (endpoint.relaxChallengeResourceCheck !== (addressing.override !== undefined)) fail('vaultEndpoint', addressing, 'relaxed the challenge check without an override');
    // Without a test address, the request goes to exactly the host the identifier names.
    if (addressing.override === undefined && new URL(endpoint.url).hostname !== host) fail('vaultEndpoint', id, `would send the request to ${endpoint.url}`);
  }

  // DNS suffixes and override addresses (start-up options).
  const suffix = r() < 0.5 ? randomText(r, 30) : `${nameLike(r, 10)}.${pick(r, ['net', 'azure.net', 'cn', '', '.', '-x'])}`;
  const d = guarded('validateDnsSuffix', suffix, ['InvalidArgument'], () => validateDnsSuffix(suffix));
  count('dns suffix', d.ok);
  if (d.ok && !/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(d.value)) fail('validateDnsSuffix', suffix, `accepted ${JSON.stringify(d.value)}`);
  if (d.ok && (d.value.includes('..') || d.value.includes('/'))) fail('validateDnsSuffix', suffix, 'accepted an empty label or a slash');
  const override = `${pick(r, ['https://', 'http://', '', 'file://'])}${randomText(r, 15)}${pick(r, ['/{vault}', '', '?a=1', '#x'])}`;
  const o = guarded('validateOverride', override, ['InvalidArgument'], () => validateOverride(override));
  count('vault url', o.ok);
  if (o.ok) {
    const u = new URL(override.replace(/\{vault\}/g, 'placeholder'));
    if (u.protocol !== 'https:' || u.search || u.hash || u.username || u.password) fail('validateOverride', override, 'accepted a non-https address or one with query, fragment or user info');
  }

  // Whole requests as the protocol delivers them: any JSON value in any field.
  const request = randomRequest(r);
  const n = guarded('normaliseRequest', request, ['InvalidArgument'], () => normaliseRequest(request as unknown as BackupRequest, { addressing: ADDRESSINGS[0]!, isAbsolute: path.isAbsolute }));
  count('request', n.ok);
  if (n.ok) {
    const targets = [request.outputFile, request.directory].filter((t) => t !== undefined);
    if (targets.length !== 1 || typeof targets[0] !== 'string' || !path.isAbsolute(targets[0]) || targets[0].includes('\0')) {
      fail('normaliseRequest', request, 'accepted a request without exactly one absolute target');
    }
    if (!vaultNameIsValid(n.value.vaultName) || !secretNameIsValid(n.value.name)) fail('normaliseRequest', request, 'accepted invalid names');
  }

  // Target paths: the default name never leaves the directory it is put in.
  const names = { vaultName: pick(r, ['v1', 'MyVault', 'a-b-c']), name: pick(r, ['s', 'My-Secret', '0', 'x'.repeat(127)]) };
  for (const api of [path.posix, path.win32]) {
    const dir = randomDirectory(r, api);
    const now = pick(r, [0, Date.now(), int(r, 4e12), 1e21, -1, 1.5]);
    const choice = r() < 0.5 ? { directory: dir } : { outputFile: dir };
    const target = resolveTarget(choice, names, now, api);
    const expectedDir = api.resolve(dir);
    if ('outputFile' in choice) {
      if (target !== expectedDir) fail('resolveTarget', { choice, api: api.sep }, `wrote to ${target}, not the file asked for`);
    } else if (api.dirname(target) !== expectedDir || api.basename(target) === '..' || api.basename(target) === '.') {
      fail('resolveTarget', { choice, names, now, api: api.sep }, `resolved to ${target}, outside ${expectedDir}`);
    }
  }

  // Protocol lines: any text, any JSON, mutations of real lines.
  const line = protocolLine(r);
  const l = guarded('parseLine', line, ['Protocol'], () => parseLine(line));
  count('protocol line', l.ok);
  if (l.ok) {
    const m = l.value;
    if (m.type === 'invalid' && (!(m.error instanceof BackupError) || m.error.kind !== 'InvalidArgument')) fail('parseLine', line, 'invalid without an InvalidArgument error');
    if (m.type === 'backup') {
      for (const key of ['vaultName', 'name', 'secretId', 'outputFile', 'directory'] as const) {
        if (m.request[key] !== undefined && typeof m.request[key] !== 'string') fail('parseLine', line, `${key} is not a string`);
      }
      if (typeof m.request.force !== 'boolean') fail('parseLine', line, 'force is not a boolean');
      if (m.request.hsmName !== undefined && typeof m.request.hsmName !== 'string') fail('parseLine', line, 'hsmName is not a string');
    }
    if (m.type === 'restore') {
      if (typeof m.request.inputFile !== 'string') fail('parseLine', line, 'a restore without a string inputFile');
      for (const key of ['vaultName', 'hsmName'] as const) {
        if (m.request[key] !== undefined && typeof m.request[key] !== 'string') fail('parseLine', line, `${key} is not a string`);
      }
    }
    if (m.type === 'begin' && m.settings.kind !== undefined && !['secret', 'key', 'certificate'].includes(m.settings.kind)) fail('parseLine', line, 'an unknown kind');
    if (m.type === 'token' && (m.token.length === 0 || Number.isNaN(m.expiresOnTimestamp))) fail('parseLine', line, 'accepted an empty token or no expiry');
    // Protocol 2: every line belongs to a pipeline, a whole number from 0 (absent: pipeline 0).
    if ('pipeline' in m && (!Number.isInteger(m.pipeline) || m.pipeline < 0 || m.pipeline > 2 ** 31)) fail('parseLine', line, `pipeline ${String(m.pipeline)} accepted`);
    if ('pipeline' in m && !/"pipeline"/.test(line) && m.pipeline !== 0) fail('parseLine', line, 'a line without pipeline is not pipeline 0');
    if ((m.type === 'token' || m.type === 'tokenUnavailable') && (typeof m.context !== 'string' || m.context.length > 200)) fail('parseLine', line, 'a token context that is not a short string');
    if (m.type === 'begin') {
      const { context, concurrency, logLevel, dnsSuffix } = m.settings;
      if (typeof context !== 'string' || context.length > 200) fail('parseLine', line, 'a begin context that is not a short string');
      if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64)) fail('parseLine', line, `concurrency ${concurrency} accepted`);
      if (logLevel !== undefined && !['warning', 'verbose', 'debug'].includes(logLevel)) fail('parseLine', line, `log level ${logLevel} accepted`);
      if (dnsSuffix !== undefined && typeof dnsSuffix !== 'string') fail('parseLine', line, 'a dnsSuffix that is not a string');
    }
    if (m.type === 'backup' && m.after !== undefined && !(typeof m.after === 'number' ? Number.isFinite(m.after) : typeof m.after === 'string' && m.after.length > 0 && m.after.length <= 200)) {
      fail('parseLine', line, `after ${JSON.stringify(m.after)} accepted`);
    }
  }

  // The vault's answer: only base64url becomes bytes.
  const value = r() < 0.5 ? Buffer.from(randomText(r, 30)).toString('base64url') + (r() < 0.5 ? token(r) : '') : randomText(r, 30);
  const b = guarded('decodeBase64Url', value, ['Service'], () => decodeBase64Url(value));
  count('base64url', b.ok);
  if (b.ok && (!/^[A-Za-z0-9_-]+={0,2}$/.test(value) || value.replace(/=+$/, '').length % 4 === 1)) fail('decodeBase64Url', value, 'accepted a value that is not base64url');
  if (b.ok && b.value.length !== Math.floor((value.replace(/=+$/, '').length * 3) / 4)) fail('decodeBase64Url', value, 'decoded to the wrong length');
}

function randomJsonValue(r: Rng, depth = 0): unknown {
  const roll = r();
  if (roll < 0.3) return nameLike(r, 30);
  if (roll < 0.4) return pick(r, [0, -1, 1.5, 1e308, Number.MAX_SAFE_INTEGER, 2 ** 53 + 1]);
  if (roll < 0.5) return pick(r, [true, false, null]);
  if (roll < 0.6) return `/${randomText(r, 10)}`;
  if (depth < 2 && roll < 0.7) return [randomJsonValue(r, depth + 1)];
  if (depth < 2 && roll < 0.8) return { toString: randomJsonValue(r, depth + 1), length: 3 };
  return randomText(r, 20);
}

function randomRequest(r: Rng): Record<string, unknown> {
  if (r() < 0.4) {
    // Mostly right, so the accepting side is reached too: valid names or identifier, one absolute target.
    const request: Record<string, unknown> = r() < 0.5
      ? { vaultName: r() < 0.8 ? validName(r, 24) : nameLike(r, 24), name: r() < 0.8 ? validName(r, 60) : nameLike(r, 60) }
      : { secretId: secretIdLike(r).id };
    request[r() < 0.5 ? 'outputFile' : 'directory'] = r() < 0.8 ? `/${randomText(r, 8)}` : randomJsonValue(r);
    if (r() < 0.1) request.directory = '/also';
    return request;
  }
  const request: Record<string, unknown> = { force: r() < 0.5 };
  const fields = ['vaultName', 'name', 'secretId', 'outputFile', 'directory'];
  for (const field of fields) {
    if (r() < 0.4) continue;
    if (field === 'outputFile' || field === 'directory') request[field] = r() < 0.6 ? `/${randomText(r, 12)}` : randomJsonValue(r);
    else if (field === 'secretId') request[field] = r() < 0.3 ? secretIdLike(r).id : randomJsonValue(r);
    else request[field] = r() < 0.6 ? nameLike(r, 30) : randomJsonValue(r);
  }
  return request;
}

function randomDirectory(r: Rng, api: path.PlatformPath): string {
  const root = api === path.win32 ? pick(r, ['C:\\', 'D:\\', '\\\\server\\share\\']) : '/';
  const parts: string[] = [];
  const n = int(r, 6);
  for (let i = 0; i < n; i++) parts.push(pick(r, ['a', 'b c', '..', '.', '', 'é', '%2F', '\u0001', 'x'.repeat(int(r, 40)), randomText(r, 4).replace(/[/\\]/g, '')]));
  return root + parts.join(api.sep) + (r() < 0.2 ? api.sep : '');
}

const REAL_LINES = [
  '{"type":"hello","protocol":3,"client":"Az.KeyVault.Backup 0.1.0","features":["tokenRequest"]}',
  '{"type":"begin","pipeline":3,"context":"az1","dnsSuffix":"vault.azure.cn","concurrency":16,"logLevel":"verbose"}',
  '{"type":"begin","pipeline":5,"kind":"key","concurrency":16,"logLevel":"warning"}',
  '{"type":"backup","pipeline":5,"id":11,"hsmName":"myhsm","name":"k","directory":"/home/u/backups","force":false}',
  '{"type":"restore","pipeline":5,"id":12,"vaultName":"myvault","inputFile":"/home/u/backups/myvault-k-1764383221.4137"}',
  '{"type":"backup","pipeline":3,"id":7,"vaultName":"myvault","name":"mysecret","directory":"/home/u/backups","force":false}',
  '{"type":"backup","pipeline":3,"id":9,"vaultName":"myvault","name":"other","outputFile":"/home/u/b.blob","force":true,"after":8}',
  '{"type":"backup","id":"x","secretId":"https://myvault.vault.azure.net/secrets/s","outputFile":"/tmp/f","force":true}',
  '{"type":"token","context":"az1","token":"eyJabc.eyJdef.sig","expiresOn":1767225600,"tenantId":"t","resource":"https://vault.azure.net"}',
  '{"type":"tokenUnavailable","context":"az1","tenantId":"t","message":"why"}',
  '{"type":"cancel","pipeline":4}',
  '{"type":"end","pipeline":3}',
  '{"type":"end"}',
];

function protocolLine(r: Rng): string {
  const roll = r();
  if (roll < 0.2) return randomText(r, 40);
  if (roll < 0.45) {
    const body: Record<string, unknown> = { type: pick(r, ['hello', 'begin', 'backup', 'restore', 'token', 'end', 'cancel', 'tokenUnavailable', 'nope', 5, null]) };
    for (const key of ['id', 'protocol', 'pipeline', 'context', 'kind', 'after', 'dnsSuffix', 'concurrency', 'logLevel', 'vaultName', 'hsmName', 'name', 'secretId', 'outputFile', 'inputFile', 'directory', 'force', 'token', 'expiresOn', 'tenantId', 'resource', 'features', '__proto__', 'constructor']) {
      if (r() < 0.4) body[key] = key === 'pipeline' || key === 'concurrency' ? pick(r, [0, 1, 3, 64, 65, -1, 2 ** 31, 2 ** 31 + 1, 1.5, '2', null]) : randomJsonValue(r);
    }
    return JSON.stringify(body);
  }
  if (roll < 0.5) return pick(r, ['['.repeat(5000), '{"a":'.repeat(3000), `{"type":"backup","id":1,"name":"${'a'.repeat(70_000)}"}`, '\ufeff{"type":"end"}', '\ufeff\ufeff{"type":"end"}']);
  // Mutate a real line: flip, drop or insert characters.
  let line = pick(r, REAL_LINES);
  const edits = 1 + int(r, 3);
  for (let i = 0; i < edits; i++) {
    const at = int(r, line.length + 1);
    const op = int(r, 3);
    if (op === 0) line = line.slice(0, at) + line.slice(at + 1);
    else if (op === 1) line = line.slice(0, at) + token(r) + line.slice(at);
    else line = line.slice(0, at) + String.fromCharCode(int(r, 128)) + line.slice(at + 1);
  }
  return line;
}

export function runFuzz(seed: number, iterations: number): FuzzStats {
  const r = rng(seed);
  const stats: FuzzStats = { iterations: 0, accepted: {}, refused: {} };
  for (let i = 0; i < iterations; i++) {
    try {
      fuzzOnce(r, stats);
    } catch (error) {
      if (error instanceof FuzzFailure) error.message = `seed ${seed}, iteration ${i}: ${error.message}`;
      throw error;
    }
    stats.iterations++;
  }
  return stats;
}
