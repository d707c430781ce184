import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedVault } from '../support/hooks.js';
import type { LocalVault } from '../support/local-vault/index.js';
import { packagedExe, packageVersion, qemuArm64, runCaptured, wine, type Emulator, type Rid } from './support.js';

// The builds this linux-x64 machine cannot run natively, run under emulation: the Windows one
// under Wine, the arm64 one under qemu-user. Each makes a real backup against the local vault
// (HTTPS with its CA, the Key Vault challenge, a managed-identity token) and must write exactly
// the bytes the vault handed out.
const TARGETS: { rid: Rid; emulator: () => Promise<Emulator> | Emulator; label: string }[] = [
  { rid: 'win-x64', emulator: wine, label: 'Wine' },
  { rid: 'linux-arm64', emulator: qemuArm64, label: 'qemu-user' },
];

for (const { rid, emulator, label } of TARGETS) {
  describe(`release: ${rid} under ${label}`, function () {
    // Emulated start-up takes seconds; creating the Wine prefix the first time takes longer.
    this.timeout(300_000);
    let emu: Emulator;
    let vault: LocalVault;
    let dir: string;

    before(async function () {
      emu = await emulator();
      vault = sharedVault();
    });
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), `azkvb-${rid}-`));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    const run = (args: string[], env: NodeJS.ProcessEnv = emu.env, input = '') =>
      runCaptured(emu.command, [...emu.prefixArgs, packagedExe(rid), ...args], env, 120_000, input);
    const vaultEnv = (): NodeJS.ProcessEnv => ({
      ...emu.env,
      NODE_EXTRA_CA_CERTS: emu.nativePath(vault.caFile),
      AZ_KEYVAULT_BACKUP_VAULT_URL: vault.vaultUrlTemplate,
      IDENTITY_ENDPOINT: vault.identityEndpoint,
      IDENTITY_HEADER: vault.identityHeader,
    });
    const uniqueVault = (): string => `x${rid.replace(/[^a-z0-9]/g, '')}${Date.now().toString(36)}`.slice(0, 24);

    it('prints its version, the one in package.json, and nothing on stderr', async function () {
      const r = await run(['--version']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), packageVersion());
      assert.equal(r.stderr, '');
    });

    it('backs up a secret from the local vault into the right bytes, printing the path it wrote', async function () {
      const vaultName = uniqueVault();
      vault.setSecret(vaultName, 'cross', `made under ${label}`);
      vault.clearRequests();
      const r = await run(['backup', '--vault-name', vaultName, '--name', 'cross', '-o', emu.nativePath(join(dir, 'cross.blob'))], vaultEnv());
      assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
      assert.equal(r.stdout.trim(), emu.nativePath(join(dir, 'cross.blob')));
      assert.deepEqual(readdirSync(dir), ['cross.blob'], 'the file and no temp file');
      const expected = vault.lastBackupBlob(vaultName, 'cross');
      assert.ok(expected && expected.length > 0, 'the vault handed out a backup');
      assert.ok(readFileSync(join(dir, 'cross.blob')).equals(expected), 'the bytes the vault handed out');
      // The challenge round (401, no token) then the authorised request.
      const backups = vault.requests.filter((q) => q.operation === 'backup' && q.vault === vaultName);
      assert.deepEqual(backups.map((q) => [q.status, q.authorized]), [[401, false], [200, true]]);
    });

    it('speaks the module\'s protocol 3: handshake with its version, two backups to named files answered by id, done for pipeline 0', async function () {
      const vaultName = uniqueVault();
      vault.setSecret(vaultName, 'one', 'first');
      vault.setSecret(vaultName, 'two', 'second');
      const lines = [
        { type: 'hello', protocol: 3, client: 'release test' },
        { type: 'backup', id: 1, vaultName, name: 'one', outputFile: emu.nativePath(join(dir, 'one.blob')), force: false },
        { type: 'backup', id: 2, vaultName, name: 'two', outputFile: emu.nativePath(join(dir, 'two.blob')), force: false },
        { type: 'backup', id: 3, vaultName, name: 'missing', outputFile: emu.nativePath(join(dir, 'three.blob')), force: false },
        { type: 'end' },
      ];
      const r = await run(['serve'], vaultEnv(), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
      assert.equal(r.code, 0, r.stderr);
      const answers = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.deepEqual(answers[0], { type: 'hello', protocol: 3, version: packageVersion() });
      // Written as each is done, in any order: compared by id.
      const results = answers.filter((a) => a['type'] === 'result').sort((a, b) => Number(a['id']) - Number(b['id']));
      assert.deepEqual(results.map((a) => [a['id'], a['ok'], a['path']]), [
        [1, true, emu.nativePath(join(dir, 'one.blob'))],
        [2, true, emu.nativePath(join(dir, 'two.blob'))],
        [3, false, undefined],
      ]);
      const error = results[2]!['error'] as { errorId: string; message: string };
      assert.equal(error.errorId, 'SecretNotFound');
      assert.ok(error.message.endsWith(` (vault '${vaultName}', secret 'missing')`), error.message);
      assert.deepEqual(answers.at(-1), { type: 'done', pipeline: 0, succeeded: 2, failed: 1 });
      assert.deepEqual(readdirSync(dir).sort(), ['one.blob', 'two.blob']);
      for (const name of ['one', 'two']) {
        assert.ok(readFileSync(join(dir, `${name}.blob`)).equals(vault.lastBackupBlob(vaultName, name)!), `${name}: the bytes the vault handed out`);
      }
    });
  });
}
