import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sharedVault } from '../support/hooks.js';
import { pwshPath, repoRoot } from '../support/paths.js';
import { runProgram } from '../support/run-exe.js';
import { moduleManifestPath, psQuote, runPwsh, tempDir } from './run-pwsh.js';
import { assertBackupFile, backupRequests, seed, uniqueVaultName } from './vault-fixtures.js';
import { standInAzAccounts, standInManifest } from './fixtures/az-accounts.js';

// Every preference the caller sets steers the module as it steers a compiled cmdlet. Each case
// runs against the module and against a compiled control cmdlet (fixtures/PreferenceOracle.cs) in
// the same runspace, with the preference set in a script's scope or in a function's, never
// globally; the assertions compare the two, so none can expect what PowerShell itself does not do.

type Scope = 'script' | 'function';
type Field = 'threw' | 'errorCount' | 'errors' | 'dollarError' | 'verbose' | 'debug' | 'warning' | 'information' | 'progress' | 'outputs' | 'files';

interface Case {
  id: string;
  scope: Scope;
  vault: string;
  assignment: string;
  names: string[];
  extra: string;
  warn: boolean;
}

interface Observation {
  id: string;
  subject: 'module' | 'oracle';
  threw: string | null;
  errors: string[];
  dollarError: string[];
  verbose: number;
  debug: number;
  warning: number;
  information: number;
  progress: number;
  outputs: number;
  files: number;
}

interface Variant {
  label: string;
  assignment: string;
  /** Common parameters given on the call: an explicit one must win over the caller's variable. */
  extra?: string;
  names?: string[];
  warn?: boolean;
}

interface Preference {
  variable: string;
  /** What is compared between the module and the oracle. */
  fields: Field[];
  variants: Variant[];
}

const PREFERENCES: Preference[] = [
  {
    variable: 'ErrorActionPreference',
    fields: ['threw', 'errors', 'dollarError', 'outputs'],
    variants: [
      { label: "'Stop'", assignment: "$ErrorActionPreference = 'Stop'", names: ['missing', 'a'] },
      { label: "'SilentlyContinue'", assignment: "$ErrorActionPreference = 'SilentlyContinue'", names: ['missing', 'a'] },
      { label: "'Ignore'", assignment: "$ErrorActionPreference = 'Ignore'", names: ['missing', 'a'] },
      { label: "'Stop' with -ErrorAction Continue", assignment: "$ErrorActionPreference = 'Stop'", extra: '-ErrorAction Continue', names: ['missing', 'a'] },
    ],
  },
  {
    variable: 'WhatIfPreference',
    fields: ['threw', 'outputs', 'files', 'errors'],
    variants: [
      { label: '$true', assignment: '$WhatIfPreference = $true' },
      { label: '$true with -WhatIf:$false', assignment: '$WhatIfPreference = $true', extra: '-WhatIf:$false' },
    ],
  },
  {
    variable: 'ConfirmPreference',
    fields: ['threw', 'errorCount', 'outputs', 'files'],
    variants: [
      // Medium is the cmdlet's impact: a prompt, which a runspace without a host cannot show.
      { label: "'Medium'", assignment: "$ConfirmPreference = 'Medium'" },
      { label: "'Medium' with -Confirm:$false", assignment: "$ConfirmPreference = 'Medium'", extra: '-Confirm:$false' },
      { label: "'None'", assignment: "$ConfirmPreference = 'None'" },
    ],
  },
  {
    variable: 'VerbosePreference',
    fields: ['threw', 'verbose', 'outputs'],
    variants: [
      { label: "'Continue'", assignment: "$VerbosePreference = 'Continue'" },
      { label: "'Continue' with -Verbose:$false", assignment: "$VerbosePreference = 'Continue'", extra: '-Verbose:$false' },
    ],
  },
  {
    variable: 'DebugPreference',
    fields: ['threw', 'debug', 'outputs'],
    variants: [
      { label: "'Continue'", assignment: "$DebugPreference = 'Continue'" },
      { label: "'Continue' with -Debug:$false", assignment: "$DebugPreference = 'Continue'", extra: '-Debug:$false' },
    ],
  },
  {
    variable: 'WarningPreference',
    fields: ['threw', 'warning', 'outputs'],
    variants: [
      { label: "'SilentlyContinue'", assignment: "$WarningPreference = 'SilentlyContinue'", warn: true },
      { label: "'Stop'", assignment: "$WarningPreference = 'Stop'", warn: true },
      { label: "'Stop' with -WarningAction Continue", assignment: "$WarningPreference = 'Stop'", extra: '-WarningAction Continue', warn: true },
    ],
  },
  {
    variable: 'InformationPreference',
    fields: ['threw', 'information', 'outputs'],
    variants: [
      { label: "'Continue'", assignment: "$InformationPreference = 'Continue'" },
      { label: "'Stop'", assignment: "$InformationPreference = 'Stop'" },
      { label: "'Continue' with -InformationAction Ignore", assignment: "$InformationPreference = 'Continue'", extra: '-InformationAction Ignore' },
    ],
  },
  {
    variable: 'ProgressPreference',
    fields: ['threw', 'progress', 'outputs'],
    variants: [
      { label: "'SilentlyContinue'", assignment: "$ProgressPreference = 'SilentlyContinue'", names: ['a', 'b', 'c'] },
      { label: "'Continue'", assignment: "$ProgressPreference = 'Continue'", names: ['a', 'b', 'c'] },
    ],
  },
];

const SCOPES: Scope[] = ['script', 'function'];

function caseId(preference: Preference, variant: Variant, scope: Scope): string {
  return `${preference.variable}-${preference.variants.indexOf(variant)}-${scope}`;
}

/** The error ids without the command's name, which differs between the module and the oracle. */
function comparable(observation: Observation, field: Field): unknown {
  if (field === 'errorCount') return observation.errors.length;
  const value = observation[field];
  if (field === 'errors' || field === 'dollarError') return (value as string[]).map((id) => id.split(',')[0]).filter((id) => id === 'SecretNotFound');
  if (field === 'threw') return value === null ? null : String(value).split(',')[0];
  if (typeof value === 'number' && field !== 'outputs' && field !== 'files') return value > 0;
  return value;
}

describe('PowerShell module: the caller’s preference variables, against a compiled cmdlet', function () {
  this.timeout(240_000);
  const observations = new Map<string, { module: Observation; oracle: Observation }>();
  const cases: Case[] = [];
  let work: string;

  before(async function () {
    const vault = sharedVault();
    work = tempDir('azkvb-preferences-');
    for (const preference of PREFERENCES) {
      for (const variant of preference.variants) {
        for (const scope of SCOPES) {
          const v = uniqueVaultName('pref');
          seed(vault, v, ['a', 'b', 'c']);
          cases.push({ id: caseId(preference, variant, scope), scope, vault: v, assignment: variant.assignment, names: variant.names ?? ['a'], extra: variant.extra ?? '', warn: variant.warn === true });
        }
      }
    }
    const casesPath = join(work, 'cases.json');
    writeFileSync(casesPath, JSON.stringify(cases));
    const fixtures = join(repoRoot(), 'test', 'pwsh', 'fixtures');
    const run = await runPwsh(
      `& ${psQuote(join(fixtures, 'preference-cases.ps1'))} -ModuleManifest ${psQuote(moduleManifestPath())} -OracleSource ${psQuote(join(fixtures, 'PreferenceOracle.cs'))} -CasesPath ${psQuote(casesPath)} -WorkDir ${psQuote(work)}`,
      { env: vault.env(), module: null, timeoutMs: 200_000 },
    );
    assert.deepEqual(run.errors, [], 'the harness itself ran cleanly');
    for (const o of run.outputs as Observation[]) {
      const pair = observations.get(o.id) ?? ({} as { module: Observation; oracle: Observation });
      pair[o.subject] = o;
      observations.set(o.id, pair);
    }
    assert.equal(observations.size, cases.length, 'every case was observed');
  });

  after(function () {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  for (const preference of PREFERENCES) {
    for (const scope of SCOPES) {
      it(`$${preference.variable} set in a ${scope}'s scope steers it as it steers a compiled cmdlet`, function () {
        const vault = sharedVault();
        for (const variant of preference.variants) {
          const id = caseId(preference, variant, scope);
          const pair = observations.get(id);
          assert.ok(pair?.module && pair.oracle, `${id} observed for both`);
          for (const field of preference.fields) {
            assert.deepEqual(comparable(pair.module, field), comparable(pair.oracle, field), `${variant.label} in a ${scope}: ${field} (module ${JSON.stringify(comparable(pair.module, field))}, compiled ${JSON.stringify(comparable(pair.oracle, field))})`);
          }
          if (preference.variable === 'WhatIfPreference' && variant.extra === undefined) {
            const c = cases.find((x) => x.id === id)!;
            assert.equal(backupRequests(vault, c.vault), 0, 'under $WhatIfPreference nothing is sent to the vault');
            assert.equal(pair.module.files, 0, 'and no file exists');
          }
        }
      });
    }
  }

  it('the comparison is not vacuous: the compiled cmdlet obeys each preference that was set', function () {
    const oracle = (preference: string, index: number, scope: Scope) => observations.get(`${preference}-${index}-${scope}`)!.oracle;
    for (const scope of SCOPES) {
      assert.equal(comparable(oracle('ErrorActionPreference', 0, scope), 'threw'), 'SecretNotFound', "'Stop' throws");
      assert.equal(oracle('ErrorActionPreference', 1, scope).errors.length, 0, "'SilentlyContinue' writes no record to the error stream");
      assert.equal(oracle('ErrorActionPreference', 3, scope).outputs, 1, '-ErrorAction Continue goes on past the failed item');
      assert.equal(oracle('WhatIfPreference', 0, scope).files, 0, '$WhatIfPreference writes nothing');
      assert.equal(oracle('WhatIfPreference', 1, scope).files, 1, '-WhatIf:$false does the work');
      assert.equal(oracle('ConfirmPreference', 0, scope).errors.length, 1, "'Medium' asks, which cannot be answered here: an error");
      assert.equal(oracle('ConfirmPreference', 0, scope).files, 0, 'and nothing is written');
      assert.equal(oracle('ConfirmPreference', 1, scope).files, 1, '-Confirm:$false does the work');
      assert.ok(oracle('VerbosePreference', 0, scope).verbose > 0 && oracle('VerbosePreference', 1, scope).verbose === 0);
      assert.ok(oracle('DebugPreference', 0, scope).debug > 0 && oracle('DebugPreference', 1, scope).debug === 0);
      assert.equal(oracle('WarningPreference', 0, scope).warning, 0);
      assert.notEqual(oracle('WarningPreference', 1, scope).threw, null);
      assert.ok(oracle('InformationPreference', 0, scope).information > 0);
      assert.ok(oracle('ProgressPreference', 1, scope).progress > 0 && oracle('ProgressPreference', 0, scope).progress === 0);
    }
  });

  it("the runbook idiom: a script whose top sets $ErrorActionPreference = 'Stop' ends at a failed backup, run with pwsh -File or & in a script scope", async function () {
    const vault = sharedVault();
    const v = uniqueVaultName('rb');
    seed(vault, v, ['present']);
    const dir = tempDir('azkvb-runbook-');
    try {
      const runbook = (command: string, importLine: string) => `$ErrorActionPreference = 'Stop'\n${importLine}\n${command} -VaultName '${v}' -Name 'missing' -OutputFile ${psQuote(dir)}\n'reached the next line'\n`;
      const moduleScript = join(dir, 'module-runbook.ps1');
      const oracleScript = join(dir, 'oracle-runbook.ps1');
      writeFileSync(moduleScript, runbook('Backup-AzKeyVaultSecret', `Import-Module ${psQuote(moduleManifestPath())}`));
      writeFileSync(
        oracleScript,
        runbook('Backup-OracleSecret', `Add-Type -TypeDefinition ([System.IO.File]::ReadAllText(${psQuote(join(repoRoot(), 'test', 'pwsh', 'fixtures', 'PreferenceOracle.cs'))}))\nImport-Module -Assembly ([AzKeyVaultBackupTests.BackupOracleSecretCommand].Assembly)`),
      );
      // pwsh -File runs the script in the global scope; Azure Automation and `& ./runbook.ps1` run it in
      // a script scope of its own, which is where a module's function used not to see the preference.
      const run = (script: string, how: 'file' | 'call') =>
        runProgram(pwshPath(), ['-NoProfile', '-NonInteractive', ...(how === 'file' ? ['-File', script] : ['-Command', `& ${psQuote(script)}; exit $(if ($?) { 0 } else { 1 })`])], {
          env: { ...process.env, ...vault.env(), NO_COLOR: '1' },
          timeoutMs: 60_000,
        });
      for (const how of ['file', 'call'] as const) {
        const [mod, oracle] = await Promise.all([run(moduleScript, how), run(oracleScript, how)]);
        assert.equal(oracle.code, 1, `${how}: the compiled cmdlet ends the runbook: ${oracle.stderr}`);
        assert.doesNotMatch(oracle.stdout, /reached the next line/);
        assert.equal(mod.code, oracle.code, `${how}: the module ends it the same way: ${mod.stdout} ${mod.stderr}`);
        assert.doesNotMatch(mod.stdout, /reached the next line/, `${how}: the line after the failed backup is not run`);
        assert.match(mod.stderr, /was not found/, `${how}: the failure is the one shown`);
      }
      assert.equal(vault.requests.filter((r) => r.vault === v && r.operation === 'backup' && r.status === 404).length, 2, 'the backup was asked for once per run, and refused');
      assert.deepEqual(readdirSync(dir).sort(), ['module-runbook.ps1', 'oracle-runbook.ps1'], 'no backup file');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("under the caller's 'Stop', the module's own probes that may fail still do not throw", async function () {
    const vault = sharedVault();
    const v = uniqueVaultName('probe');
    seed(vault, v, ['s']);
    const dir = tempDir('azkvb-probe-');
    // Az.Accounts loaded without a context: the module asks it, finds nothing and signs in by itself.
    const standIn = standInAzAccounts({ shape: '5', context: null, tokens: [] });
    try {
      const run = await runPwsh(
        `$ErrorActionPreference = 'Stop'\nImport-Module ${psQuote(standInManifest())}\nBackup-AzKeyVaultSecret -VaultName '${v}' -Name 's' -OutputFile ${psQuote(join(dir, 's.blob'))}\n'after'\n`,
        { env: { ...vault.env(), ...standIn.env } },
      );
      assert.deepEqual(run.errors, []);
      assert.deepEqual(run.outputs, [join(dir, 's.blob'), 'after']);
      assert.ok(existsSync(join(dir, 's.blob')));
    } finally {
      standIn.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("$PSDefaultParameterValues reaches it: 'Backup-AzKeyVaultSecret:Force' = $true replaces an existing file", async function () {
    const vault = sharedVault();
    const v = uniqueVaultName('pdv');
    seed(vault, v, ['s']);
    const dir = tempDir('azkvb-pdv-');
    const target = join(dir, 's.blob');
    try {
      writeFileSync(target, 'old bytes');
      const run = await runPwsh(
        `function Invoke-Backup {\n  $PSDefaultParameterValues = @{ 'Backup-AzKeyVaultSecret:Force' = $true }\n  Backup-AzKeyVaultSecret -VaultName '${v}' -Name 's' -OutputFile ${psQuote(target)}\n}\nInvoke-Backup\n`,
        { env: vault.env() },
      );
      assert.deepEqual(run.errors, []);
      assert.deepEqual(run.outputs, [target]);
      assertBackupFile(vault, v, 's', target);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
