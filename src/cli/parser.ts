import * as path from 'node:path';
import yargs, { type Argv } from 'yargs';
import { backupItem, type BackupDependencies, type BackupRequest } from '../core/backup.js';
import { ITEM_KINDS, type ItemKind } from '../core/item-kind.js';
import { DEFAULT_RESTORE, readFileCapped, restoreItem, type RestoreDependencies } from '../core/restore.js';
import { TempFileRegistry } from '../core/atomic-write.js';
import { BackupCredential, type BackupCredentialSettings, type SuppliedToken } from '../core/credential.js';
import { chainOptionsFor, defaultChainFactory } from '../core/credential-chain.js';
import { BackupError, ERROR_KINDS } from '../core/errors.js';
import { toBackupError } from '../core/error-mapping.js';
import { LOG_LEVELS, type Logger, type LogLevel } from '../core/logger.js';
import { createVaultClients, DEFAULT_TRANSPORT, VaultPacers, type TransportOptions } from '../core/vault-client.js';
import { PUBLIC_DNS_SUFFIX, validateDnsSuffix, validateOverride, type VaultAddressing } from '../core/vault-address.js';
import { serve } from '../protocol/serve.js';
import type { ResolvedSettings } from '../protocol/serve.js';
import { pipelineRoutedLogger, stderrLogger } from './logger.js';

/** Everything the CLI needs from the outside world, passed in so tests can drive it. */
export interface CliEnvironment {
  version: string;
  /** Only the variables this program documents are read from it. */
  env: Readonly<Record<string, string | undefined>>;
  /** Things main noticed before the logger existed (e.g. an ignored TLS override). */
  startupWarnings?: readonly string[];
  cwd: string;
  stdout(line: string): void;
  stderr(line: string): void;
  stdinLines(): AsyncIterable<string>;
  setExitCode(code: number): void;
  fs: { isDirectory(file: string): boolean; exists(file: string): boolean };
  now(): number;
  /** Registry of temp files, so the signal handlers can remove them. */
  registry: TempFileRegistry;
  /** Hook for tests: replace the credential chain. */
  makeCredential?(logger: Logger, settings?: BackupCredentialSettings): BackupCredential;
}

export const VAULT_URL_ENV = 'AZ_KEYVAULT_BACKUP_VAULT_URL';
export const DNS_SUFFIX_ENV = 'AZ_KEYVAULT_BACKUP_VAULT_DNS_SUFFIX';
export const HSM_URL_ENV = 'AZ_KEYVAULT_BACKUP_HSM_URL';
/** Lets a benchmark or a test lift the per-vault rate ceiling of processes the module starts. */
export const MAX_RPS_ENV = 'AZ_KEYVAULT_BACKUP_MAX_REQUESTS_PER_SECOND';
/** How long a session executable waits with no pipeline before it ends, unless --idle-timeout-seconds says. */
export const DEFAULT_IDLE_TIMEOUT_SECONDS = 300;

export const EXIT_CODES_HELP = Object.entries(ERROR_KINDS)
  .map(([kind, info]) => `  ${String(info.exitCode).padStart(2)}  ${kind} (${info.errorId})`)
  .join('\n');

interface CommonArgs {
  'vault-dns-suffix'?: string;
  'vault-url'?: string;
  'hsm-url'?: string;
  'timeout-seconds': number;
  'max-retries': number;
  'log-level': LogLevel;
}

/** An environment variable that is set to something; an empty one counts as unset. */
function nonEmpty(value: string | undefined): string | undefined {
  return value !== undefined && value !== '' ? value : undefined;
}

function addressingFrom(args: CommonArgs, env: CliEnvironment['env']): VaultAddressing {
  const override = args['vault-url'] ?? nonEmpty(env[VAULT_URL_ENV]);
  const hsmOverride = args['hsm-url'] ?? nonEmpty(env[HSM_URL_ENV]);
  return {
    // A runbook in another cloud without Az sets the environment variable once.
    dnsSuffix: validateDnsSuffix(args['vault-dns-suffix'] ?? nonEmpty(env[DNS_SUFFIX_ENV]) ?? PUBLIC_DNS_SUFFIX),
    ...(override !== undefined ? { override: validateOverride(override) } : {}),
    ...(hsmOverride !== undefined ? { hsmOverride: validateOverride(hsmOverride) } : {}),
  };
}

function transportFrom(args: CommonArgs, credential: BackupCredential, addressing: VaultAddressing, logger: Logger): TransportOptions {
  return {
    ...DEFAULT_TRANSPORT,
    credential,
    addressing,
    logger,
    requestTimeoutMs: Math.round(args['timeout-seconds'] * 1000),
    maxRetries: args['max-retries'],
  };
}

function withCommon<T>(y: Argv<T>) {
  return y
    .option('vault-dns-suffix', {
      type: 'string',
      describe: `DNS suffix of the cloud: vault.azure.net (default), vault.azure.cn, vault.usgovcloudapi.net. Also ${DNS_SUFFIX_ENV}.`,
    })
    .option('vault-url', {
      type: 'string',
      describe: `Explicit vault address for a local or test vault; may contain {vault}. Also ${VAULT_URL_ENV}.`,
    })
    .option('hsm-url', {
      type: 'string',
      describe: `Explicit Managed HSM address (a private cloud, a test HSM); may contain {vault}. Also ${HSM_URL_ENV}.`,
    })
    .option('timeout-seconds', { type: 'number', default: DEFAULT_TRANSPORT.requestTimeoutMs / 1000, describe: 'Timeout of each HTTP attempt (0.1-3600)' })
    .option('max-retries', {
      type: 'number',
      default: DEFAULT_TRANSPORT.maxRetries,
      describe: 'Retries of a throttled, failed or timed-out attempt, backing off about 1, 2, 4, 8, 16 s (0-10)',
    })
    .option('log-level', { choices: LOG_LEVELS, default: 'warning' as LogLevel, describe: 'Diagnostics written to stderr' })
    .check((a) => {
      const timeout = a['timeout-seconds'];
      if (!Number.isFinite(timeout) || timeout < 0.1 || timeout > 3600) throw new Error('--timeout-seconds must be from 0.1 to 3600.');
      const retries = a['max-retries'];
      if (!Number.isInteger(retries) || retries < 0 || retries > 10) throw new Error('--max-retries must be an integer from 0 to 10.');
      return true;
    });
}

type SessionDependencies = BackupDependencies & RestoreDependencies;

/**
 * What a session keeps between pipelines: one credential per Az context ('' is the executable's
 * own sign-in), and one set of dependencies per context, concurrency and cloud.
 */
function createSessionServices(wiring: {
  makeCredential(settings: BackupCredentialSettings): BackupCredential;
  dependenciesFor(settings: ResolvedSettings, credential: BackupCredential): SessionDependencies;
}) {
  const credentials = new Map<string, BackupCredential>();
  const dependencySets = new Map<string, SessionDependencies>();
  let requester: ((context: string, tenantId: string | undefined) => void) | undefined;
  const credentialFor = (context: string): BackupCredential => {
    let credential = credentials.get(context);
    if (credential === undefined) {
      credential = wiring.makeCredential({ askBeforeFirstToken: context !== '' });
      if (requester !== undefined) {
        const ask = requester;
        credential.enableTokenRequests((tenantId) => ask(context, tenantId));
      }
      credentials.set(context, credential);
    }
    return credential;
  };
  return {
    dependencies(settings: ResolvedSettings): SessionDependencies {
      const key = JSON.stringify([settings.context, settings.concurrency, settings.dnsSuffix ?? null]);
      let deps = dependencySets.get(key);
      if (deps === undefined) {
        deps = wiring.dependenciesFor(settings, credentialFor(settings.context));
        dependencySets.set(key, deps);
      }
      return deps;
    },
    supplyToken: (context: string, token: SuppliedToken): void => credentialFor(context).supply(token),
    declineToken: (context: string, tenantId: string | undefined, message: string | undefined): void => credentialFor(context).decline(tenantId, message),
    enableTokenRequests(send: (context: string, tenantId: string | undefined) => void): void {
      requester = send;
      for (const [context, credential] of credentials) credential.enableTokenRequests((tenantId) => send(context, tenantId));
    },
  };
}

function reportFailure(cli: CliEnvironment, error: unknown): void {
  const e = toBackupError(error);
  cli.stderr(`az-keyvault-backup: ${e.errorId}: ${e.message}`);
  cli.setExitCode(e.exitCode);
}

/** The command line, exported so tests drive it through parseAsync. */
export function createParser(cli: CliEnvironment): Argv {
  // AZURE_AUTHORITY_HOST is also read by the SDK itself; here it only decides whether MSAL's instance discovery must be skipped.
  const chain = defaultChainFactory(chainOptionsFor(cli.env['AZURE_AUTHORITY_HOST']));
  const makeCredential = cli.makeCredential ?? ((logger: Logger, settings?: BackupCredentialSettings) => new BackupCredential(logger, chain, Date.now, settings));
  const dependencies = (addressing: VaultAddressing, transport: TransportOptions, logger: Logger): BackupDependencies & RestoreDependencies => ({
    clientFor: createVaultClients(transport),
    addressing,
    now: cli.now,
    exists: cli.fs.exists,
    isAbsolute: path.isAbsolute,
    registry: cli.registry,
    logger,
    readFile: readFileCapped,
    purgeWaitMs: DEFAULT_RESTORE.purgeWaitMs,
    maxBackupBytes: DEFAULT_RESTORE.maxBackupBytes,
  });

  // The command line's own rule for its users (the module decides it for PowerShell's, and sends
  // the executable a directory or a file): an --output-file naming an existing directory gets the
  // default name inside it. A path that cannot be looked at is a file; the write says why it fails.
  const outputTarget = (outputFile: string | undefined, directory: string | undefined): { outputFile: string } | { directory: string } => {
    if (outputFile === undefined) return { directory: path.resolve(cli.cwd, directory ?? '.') };
    const file = path.resolve(cli.cwd, outputFile);
    let isDirectory = false;
    try {
      isDirectory = cli.fs.isDirectory(file);
    } catch {
      isDirectory = false;
    }
    return isDirectory ? { directory: file } : { outputFile: file };
  };

  // Each command's diagnostics, starting with what main noticed before there was a logger.
  const commandLogger = (level: LogLevel, format: 'json' | 'text'): Logger => {
    const logger = stderrLogger(cli.stderr, level, format);
    for (const warning of cli.startupWarnings ?? []) logger.warning(warning);
    return logger;
  };

  // With exitProcess(false), yargs may still call a handler after a
  // validation failure; this keeps a refused command line from doing anything.
  let refused = false;

  // A command that does one thing and prints one line (backup, restore): its own sign-in and
  // clients, its exit code from the one error table.
  const oneShot = async (args: CommonArgs, work: (deps: SessionDependencies) => Promise<string>): Promise<void> => {
    if (refused) return;
    const logger = commandLogger(args['log-level'], 'text');
    try {
      const addressing = addressingFrom(args, cli.env);
      const deps = dependencies(addressing, transportFrom(args, makeCredential(logger), addressing, logger), logger);
      cli.stdout(await work(deps));
      cli.setExitCode(0);
    } catch (error) {
      reportFailure(cli, error);
    }
  };

  return yargs()
    .scriptName('az-keyvault-backup')
    .version(cli.version)
    .detectLocale(false)
    .strict()
    .exitProcess(false)
    .wrap(100)
    .usage('$0 <command> [options]\n\nBacks up Azure Key Vault secrets, keys and certificates to files holding exactly the bytes the Az cmdlets (Backup-AzKeyVaultSecret, -Key, -Certificate) and `az keyvault ... backup` write, and restores them.')
    .command(
      'backup',
      'Back up one secret, key or certificate to a file and print the file\'s full path',
      (y) =>
        withCommon(y)
          .option('kind', { choices: ITEM_KINDS, default: 'secret' as ItemKind, describe: 'What --name names' })
          .option('vault-name', { type: 'string', describe: 'Name of the key vault' })
          .option('hsm-name', { type: 'string', describe: 'Name of a Managed HSM instead of a vault (--kind key)' })
          .option('name', { type: 'string', describe: 'Name of the secret, key or certificate' })
          .option('secret-id', { type: 'string', describe: 'Secret URI instead of --vault-name and --name' })
          .option('output-file', { alias: 'o', type: 'string', describe: 'File to write (an existing directory: default name inside it)' })
          .option('directory', { alias: 'd', type: 'string', describe: 'Directory for the default file name <vault>-<name>-<epoch seconds>' })
          .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'Replace an existing file' })
          .conflicts('output-file', 'directory')
          .conflicts('secret-id', ['vault-name', 'hsm-name', 'name'])
          .conflicts('vault-name', 'hsm-name')
          .check((a) => {
            if (a['secret-id'] === undefined && ((a['vault-name'] === undefined && a['hsm-name'] === undefined) || a.name === undefined)) {
              throw new Error('Give --vault-name (or --hsm-name) and --name, or --secret-id.');
            }
            return true;
          })
          .example('$0 backup --vault-name myvault --name mysecret', 'Writes ./myvault-mysecret-<epoch seconds> and prints its path')
          .example('$0 backup --vault-name myvault --name mysecret -o /backups/mysecret.blob --force', 'Replaces /backups/mysecret.blob')
          .example('$0 backup --kind key --hsm-name myhsm --name signing -d /backups', 'A key of a Managed HSM')
          .example('$0 backup --kind certificate --vault-name myvault --name tls', 'A certificate, with its key and secret')
          .example('$0 backup --secret-id https://myvault.vault.azure.net/secrets/mysecret -d /backups', 'Default name in /backups')
          .example('$0 backup --vault-name myvault --name mysecret --vault-dns-suffix vault.azure.cn', 'A vault in Azure China')
          .epilog(`Exit codes:\n   0  OK\n${EXIT_CODES_HELP}`),
      async (args) =>
        oneShot(args, async (deps) => {
          const request: BackupRequest = {
            kind: args.kind,
            vaultName: args['vault-name'],
            ...(args['hsm-name'] !== undefined ? { hsmName: args['hsm-name'] } : {}),
            name: args.name,
            secretId: args['secret-id'],
            force: args.force,
            ...outputTarget(args['output-file'], args.directory),
          };
          return (await backupItem(request, deps)).path;
        }),
    )
    .command(
      'restore',
      'Restore one backup file into a vault and print what was restored, as one JSON line',
      (y) =>
        withCommon(y)
          .option('kind', { choices: ITEM_KINDS, default: 'secret' as ItemKind, describe: 'What the file holds' })
          .option('vault-name', { type: 'string', describe: 'Name of the key vault to restore into' })
          .option('hsm-name', { type: 'string', describe: 'Name of a Managed HSM instead of a vault (--kind key)' })
          .option('input-file', { alias: 'i', type: 'string', demandOption: true, describe: 'The backup file' })
          .conflicts('vault-name', 'hsm-name')
          .check((a) => {
            if (a['vault-name'] === undefined && a['hsm-name'] === undefined) throw new Error('Give --vault-name or --hsm-name.');
            return true;
          })
          .example('$0 restore --vault-name myvault -i ./myvault-mysecret-1764383221.4137', 'Restores a secret with all its versions')
          .example('$0 restore --kind certificate --vault-name other -i ./tls.blob', 'A certificate, with its key and secret, into another vault of the subscription')
          .epilog(`A restore never replaces an item: a name in use (${'ItemExists'}) or soft-deleted (${'ItemSoftDeleted'}) is refused; right after a purge the vault refuses for a few seconds, which is waited out.\n\nExit codes:\n   0  OK\n${EXIT_CODES_HELP}`),
      async (args) =>
        oneShot(args, async (deps) => {
          const item = await restoreItem(
            {
              kind: args.kind,
              ...(args['vault-name'] !== undefined ? { vaultName: args['vault-name'] } : {}),
              ...(args['hsm-name'] !== undefined ? { hsmName: args['hsm-name'] } : {}),
              inputFile: path.resolve(cli.cwd, args['input-file']),
            },
            deps,
          );
          return JSON.stringify(item);
        }),
    )
    .command(
      'serve',
      'Serve the JSON-lines protocol on stdin/stdout (used by the PowerShell module; see docs/protocol.md)',
      (y) =>
        withCommon(y)
          .option('concurrency', { type: 'number', default: DEFAULT_TRANSPORT.maxConcurrency, describe: 'Requests on the wire at once per vault (1-64); a backup waiting to retry holds none' })
          .option('max-requests-per-second', {
            type: 'number',
            default: Number(nonEmpty(cli.env[MAX_RPS_ENV]) ?? DEFAULT_TRANSPORT.maxRequestsPerSecond),
            defaultDescription: `90% of the service limit: ${DEFAULT_TRANSPORT.maxRequestsPerSecond} (${DEFAULT_TRANSPORT.maxRequestsPerSecond * 10} per 10 s), or ${MAX_RPS_ENV}`,
            describe: 'Requests per second per vault, retries included, counted as the service does: at most R x 10 in any 10 s, so a burst within that goes at once',
          })
          .option('idle-timeout-seconds', {
            type: 'number',
            default: DEFAULT_IDLE_TIMEOUT_SECONDS,
            describe: 'End the session after this long with no pipeline open (0: only at end of input)',
          })
          .check((a) => {
            const idle = a['idle-timeout-seconds'];
            if (!Number.isFinite(idle) || idle < 0 || idle > 86_400) throw new Error('--idle-timeout-seconds must be from 0 to 86400.');
            if (!Number.isInteger(a.concurrency) || a.concurrency < 1 || a.concurrency > 64) {
              throw new Error('--concurrency must be an integer from 1 to 64.');
            }
            const rate = a['max-requests-per-second'];
            if (!Number.isFinite(rate) || rate <= 0 || rate > 100_000) {
              throw new Error(`--max-requests-per-second (or ${MAX_RPS_ENV}) must be a number above 0, at most 100000.`);
            }
            return true;
          })
          .example('$0 serve --log-level verbose < requests.jsonl', 'Answers each request line with a result line'),
      async (args) => {
        if (refused) return;
        const routed = pipelineRoutedLogger(cli.stderr, args['log-level']);
        const logger = routed.logger;
        try {
          const addressing = addressingFrom(args, cli.env);
          const pacers = new VaultPacers(args['max-requests-per-second']);
          const session = createSessionServices({
            makeCredential: (settings) => makeCredential(logger, settings),
            // One set of clients (keep-alive connections, the vault's challenge) per Az context,
            // -ThrottleLimit and cloud: a client caches its token, so contexts never share one. Each
            // vault's pacer is the session's one, as the vault counts every client's requests.
            dependenciesFor: (settings, credential) => {
              const addressed = settings.dnsSuffix !== undefined ? { ...addressing, dnsSuffix: validateDnsSuffix(settings.dnsSuffix) } : addressing;
              const transport: TransportOptions = {
                ...transportFrom(args, credential, addressed, logger),
                maxConcurrency: settings.concurrency,
                maxRequestsPerSecond: args['max-requests-per-second'],
                pacers,
              };
              return dependencies(addressed, transport, logger);
            },
          });
          const code = await serve({
            lines: cli.stdinLines(),
            write: cli.stdout,
            logger,
            version: cli.version,
            defaults: { context: '', kind: 'secret', concurrency: args.concurrency, logLevel: args['log-level'] },
            idleTimeoutMs: Math.round(args['idle-timeout-seconds'] * 1000),
            within: routed.within,
            backup: (request, settings, signal) => backupItem(request, session.dependencies(settings), signal),
            restore: (request, settings, signal) => restoreItem(request, session.dependencies(settings), signal),
            onAbort: () => cli.registry.removeAll(),
            diagnosticsWritten: routed.written,
            pipelineWarnings: cli.startupWarnings,
            supplyToken: session.supplyToken,
            declineToken: session.declineToken,
            enableTokenRequests: session.enableTokenRequests,
          });
          cli.setExitCode(code);
        } catch (error) {
          reportFailure(cli, error);
        }
      },
    )
    .demandCommand(1, 'Give a command: backup, restore or serve.')
    .example('$0 backup --vault-name myvault --name mysecret', 'Back up one secret into the current directory')
    .epilog('Credentials: DefaultAzureCredential (environment service principal, workload identity, managed identity, Azure CLI, Azure PowerShell).\nA local CA is trusted with NODE_EXTRA_CA_CERTS; TLS verification cannot be turned off.')
    .fail((message, error) => {
      if (error instanceof BackupError) throw error;
      refused = true;
      cli.stderr(`az-keyvault-backup: ${message ?? error?.message ?? 'invalid command line'}`);
      cli.stderr('Run az-keyvault-backup --help for usage.');
      cli.setExitCode(ERROR_KINDS.InvalidArgument.exitCode);
    });
}
