// The Az.KeyVault surface of the module's six cmdlets, as Az's C# declares it
// (/work/shared/reference/az-backup-restore-cmdlets.md and, for Backup-AzKeyVaultSecret, docs/behaviour),
// plus the module's documented extras: -ThrottleLimit everywhere, and -InputFile bound by property
// name (alias FullName) on the Restore cmdlets so that Get-ChildItem can feed them. The metadata and
// help tests both read it.

export const NAMED = -2147483648;

export interface ParameterSurface {
  type: string;
  aliases: string[];
  byValue: boolean;
  byName: boolean;
  notNullOrEmpty: boolean;
}

export interface CmdletSurface {
  name: string;
  kind: 'secret' | 'key' | 'certificate';
  operation: 'backup' | 'restore';
  defaultSet: string;
  outputType: string[];
  parameters: Record<string, ParameterSurface>;
  /** Set -> parameter -> [position, mandatory]. */
  sets: Record<string, Record<string, [number, boolean]>>;
}

const STRING = 'System.String';
const OBJECT = 'System.Object';
const p = (type: string, options: Partial<ParameterSurface> = {}): ParameterSurface => ({ type, aliases: [], byValue: false, byName: false, notNullOrEmpty: true, ...options });

const COMMON_PARAMETERS: Record<string, ParameterSurface> = {
  DefaultProfile: p(OBJECT, { aliases: ['AzContext', 'AzureRmContext', 'AzureCredential'] }),
  ThrottleLimit: p('System.Int32', { notNullOrEmpty: false }),
};
const COMMON_IN_SETS: Record<string, [number, boolean]> = { DefaultProfile: [NAMED, false], ThrottleLimit: [NAMED, false] };

const BACKUP_PARAMETERS: Record<string, ParameterSurface> = {
  OutputFile: p(STRING),
  Force: p('System.Management.Automation.SwitchParameter', { notNullOrEmpty: false }),
  ...COMMON_PARAMETERS,
};
const BACKUP_IN_SETS: Record<string, [number, boolean]> = { OutputFile: [2, false], Force: [NAMED, false], ...COMMON_IN_SETS };

/** The one difference from Az's metadata, decided for the issue: Get-ChildItem | Restore-... */
export const INPUT_FILE_EXTRA = { byName: true, aliases: ['FullName'] };
const RESTORE_PARAMETERS: Record<string, ParameterSurface> = {
  InputFile: p(STRING, INPUT_FILE_EXTRA),
  ...COMMON_PARAMETERS,
};
const RESTORE_IN_SETS: Record<string, [number, boolean]> = { InputFile: [1, true], ...COMMON_IN_SETS };

const withCommon = (sets: Record<string, Record<string, [number, boolean]>>, common: Record<string, [number, boolean]>) =>
  Object.fromEntries(Object.entries(sets).map(([set, parameters]) => [set, { ...parameters, ...common }]));

export const CMDLETS: CmdletSurface[] = [
  {
    name: 'Backup-AzKeyVaultSecret',
    kind: 'secret',
    operation: 'backup',
    defaultSet: 'BySecretName',
    outputType: ['System.String'],
    parameters: {
      VaultName: p(STRING),
      Name: p(STRING, { aliases: ['SecretName'] }),
      InputObject: p(OBJECT, { aliases: ['Secret'], byValue: true }),
      Id: p(STRING, { aliases: ['SecretId'] }),
      ...BACKUP_PARAMETERS,
    },
    sets: withCommon(
      {
        BySecretName: { VaultName: [0, true], Name: [1, true] },
        BySecret: { InputObject: [0, true] },
        BySecretUri: { Id: [0, true] },
      },
      BACKUP_IN_SETS,
    ),
  },
  {
    name: 'Backup-AzKeyVaultKey',
    kind: 'key',
    operation: 'backup',
    defaultSet: 'ByKeyName',
    outputType: ['System.String'],
    parameters: {
      VaultName: p(STRING),
      HsmName: p(STRING),
      Name: p(STRING, { aliases: ['KeyName'] }),
      InputObject: p(OBJECT, { aliases: ['Key'], byValue: true }),
      ...BACKUP_PARAMETERS,
    },
    sets: withCommon(
      {
        ByKeyName: { VaultName: [0, true], Name: [1, true] },
        ByKey: { InputObject: [0, true] },
        HsmByKeyName: { HsmName: [NAMED, true], Name: [1, true] },
      },
      BACKUP_IN_SETS,
    ),
  },
  {
    name: 'Backup-AzKeyVaultCertificate',
    kind: 'certificate',
    operation: 'backup',
    defaultSet: 'ByCertificateName',
    outputType: ['System.String'],
    parameters: {
      VaultName: p(STRING),
      // Really SecretName: Az's own copy-paste, and its surface.
      Name: p(STRING, { aliases: ['SecretName'] }),
      InputObject: p(OBJECT, { aliases: ['Certificate'], byValue: true }),
      ...BACKUP_PARAMETERS,
    },
    sets: withCommon(
      {
        ByCertificateName: { VaultName: [0, true], Name: [1, true] },
        ByCertificate: { InputObject: [0, true] },
      },
      BACKUP_IN_SETS,
    ),
  },
  {
    name: 'Restore-AzKeyVaultSecret',
    kind: 'secret',
    operation: 'restore',
    defaultSet: 'ByVaultName',
    outputType: ['Microsoft.Azure.Commands.KeyVault.Models.PSKeyVaultSecret'],
    parameters: {
      VaultName: p(STRING),
      Id: p(STRING, { aliases: ['SecretId'] }),
      InputObject: p(OBJECT, { byValue: true }),
      ParentResourceId: p(STRING, { aliases: ['ResourceId'], byName: true }),
      ...RESTORE_PARAMETERS,
    },
    sets: withCommon(
      {
        ByVaultName: { VaultName: [0, true] },
        ByInputObject: { InputObject: [0, true] },
        ByParentResourceId: { ParentResourceId: [0, true] },
        BySecretUri: { Id: [0, true] },
      },
      RESTORE_IN_SETS,
    ),
  },
  {
    name: 'Restore-AzKeyVaultKey',
    kind: 'key',
    operation: 'restore',
    defaultSet: 'ByVaultName',
    outputType: ['Microsoft.Azure.Commands.KeyVault.Models.PSKeyVaultKey'],
    parameters: {
      VaultName: p(STRING),
      HsmName: p(STRING),
      InputObject: p(OBJECT, { byValue: true }),
      HsmObject: p(OBJECT, { byValue: true }),
      ResourceId: p(STRING, { byName: true }),
      HsmResourceId: p(STRING, { byName: true }),
      ...RESTORE_PARAMETERS,
    },
    sets: withCommon(
      {
        ByVaultName: { VaultName: [0, true] },
        ByInputObject: { InputObject: [0, true] },
        ByResourceId: { ResourceId: [0, true] },
        HsmByVaultName: { HsmName: [NAMED, true] },
        HsmByInputObject: { HsmObject: [0, true] },
        HsmByResourceId: { HsmResourceId: [NAMED, true] },
      },
      RESTORE_IN_SETS,
    ),
  },
  {
    name: 'Restore-AzKeyVaultCertificate',
    kind: 'certificate',
    operation: 'restore',
    defaultSet: 'ByVaultName',
    outputType: ['Microsoft.Azure.Commands.KeyVault.Models.PSKeyVaultCertificate'],
    parameters: {
      VaultName: p(STRING),
      InputObject: p(OBJECT, { byValue: true }),
      ResourceId: p(STRING, { byName: true }),
      ...RESTORE_PARAMETERS,
    },
    sets: withCommon(
      {
        ByVaultName: { VaultName: [0, true] },
        ByInputObject: { InputObject: [0, true] },
        ByResourceId: { ResourceId: [0, true] },
      },
      RESTORE_IN_SETS,
    ),
  },
];

export const CMDLET_NAMES = CMDLETS.map((c) => c.name);
