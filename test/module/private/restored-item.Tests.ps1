# src/module/private/restored-item.ps1: a restore result's item -> the object the Restore cmdlets
# write, with Az's type name, [datetime]s of kind Utc and Tags as a Hashtable.

BeforeAll {
    Import-Module ([System.IO.Path]::Combine($PSScriptRoot, '..', '..', '..', 'Az.KeyVault.Backup.psd1')) -Force

    # An item as the executable writes it, read back the way the module reads a result line.
    function Read-Item([string]$Json) { (ConvertFrom-Json -InputObject ('{"type":"result","id":1,"ok":true,"item":' + $Json + '}')).item }
    function Convert-Item($Item, [string]$Kind) {
        InModuleScope Az.KeyVault.Backup -Parameters @{ Item = $Item; Kind = $Kind } { ConvertTo-RestoredItem -Item $Item -Kind $Kind }
    }
}

Describe 'ConvertTo-RestoredItem' {
    It 'makes a secret: the PSKeyVaultSecret type name, its properties in order, SecretValue $null' {
        $item = Read-Item '{"kind":"secret","vaultName":"v1","name":"s1","version":"0123456789abcdef0123456789abcdef","id":"https://v1.vault.azure.net/secrets/s1/0123456789abcdef0123456789abcdef","enabled":true,"created":"2026-12-02T06:00:00.000Z","updated":"2026-12-02T06:30:00.000Z","contentType":"text/plain","tags":{"env":"prod","team":"a b"},"recoveryLevel":"Recoverable+Purgeable"}'
        $o = Convert-Item $item 'secret'
        $o.PSTypeNames[0] | Should -BeExactly 'Microsoft.Azure.Commands.KeyVault.Models.PSKeyVaultSecret'
        @($o.PSObject.Properties.Name) | Should -Be @('VaultName', 'Name', 'Version', 'Id', 'Enabled', 'Expires', 'NotBefore', 'Created', 'Updated', 'ContentType', 'Tags', 'SecretValue')
        $o.VaultName | Should -BeExactly 'v1'
        $o.Name | Should -BeExactly 's1'
        $o.Version | Should -BeExactly '0123456789abcdef0123456789abcdef'
        $o.Id | Should -BeExactly 'https://v1.vault.azure.net/secrets/s1/0123456789abcdef0123456789abcdef'
        $o.Enabled | Should -BeOfType [bool]
        $o.Enabled | Should -BeTrue
        $o.ContentType | Should -BeExactly 'text/plain'
        $o.SecretValue | Should -Be $null
        $o.Tags | Should -BeOfType [hashtable]
        $o.Tags['env'] | Should -BeExactly 'prod'
        $o.Tags['team'] | Should -BeExactly 'a b'
    }

    It 'makes a key: KeyType, KeySize as [int], CurveName, RecoveryLevel and IsHsm' {
        $item = Read-Item '{"kind":"key","vaultName":"v1","name":"k1","version":"aa","id":"https://v1.vault.azure.net/keys/k1/aa","enabled":false,"keyType":"RSA","keySize":2048,"keyOps":["sign","verify"],"recoveryLevel":"Recoverable","isHsm":false}'
        $o = Convert-Item $item 'key'
        $o.PSTypeNames[0] | Should -BeExactly 'Microsoft.Azure.Commands.KeyVault.Models.PSKeyVaultKey'
        @($o.PSObject.Properties.Name) | Should -Be @('VaultName', 'Name', 'Version', 'Id', 'Enabled', 'Expires', 'NotBefore', 'Created', 'Updated', 'RecoveryLevel', 'Tags', 'KeyType', 'KeySize', 'CurveName', 'IsHsm')
        $o.KeyType | Should -BeExactly 'RSA'
        $o.KeySize | Should -BeOfType [int]
        $o.KeySize | Should -Be 2048
        $o.CurveName | Should -Be $null
        $o.RecoveryLevel | Should -BeExactly 'Recoverable'
        $o.Enabled | Should -BeFalse
        $o.IsHsm | Should -BeOfType [bool]
        $o.IsHsm | Should -BeFalse
    }

    It 'makes a key of a Managed HSM: IsHsm true, the HSM as VaultName, an EC curve and no size' {
        $o = Convert-Item (Read-Item '{"kind":"key","vaultName":"myhsm","name":"k1","keyType":"EC-HSM","curveName":"P-256","isHsm":true}') 'key'
        $o.VaultName | Should -BeExactly 'myhsm'
        $o.IsHsm | Should -BeTrue
        $o.CurveName | Should -BeExactly 'P-256'
        $o.KeySize | Should -Be $null
    }

    It 'makes a certificate: KeyId, SecretId, Thumbprint and RecoveryLevel' {
        $item = Read-Item '{"kind":"certificate","vaultName":"v1","name":"c1","version":"bb","id":"https://v1.vault.azure.net/certificates/c1/bb","keyId":"https://v1.vault.azure.net/keys/c1/bb","secretId":"https://v1.vault.azure.net/secrets/c1/bb","thumbprint":"0A1B2C3D","recoveryLevel":"Recoverable+Purgeable","enabled":true}'
        $o = Convert-Item $item 'certificate'
        $o.PSTypeNames[0] | Should -BeExactly 'Microsoft.Azure.Commands.KeyVault.Models.PSKeyVaultCertificate'
        @($o.PSObject.Properties.Name) | Should -Be @('VaultName', 'Name', 'Version', 'Id', 'Enabled', 'Expires', 'NotBefore', 'Created', 'Updated', 'RecoveryLevel', 'Tags', 'KeyId', 'SecretId', 'Thumbprint')
        $o.KeyId | Should -BeExactly 'https://v1.vault.azure.net/keys/c1/bb'
        $o.SecretId | Should -BeExactly 'https://v1.vault.azure.net/secrets/c1/bb'
        $o.Thumbprint | Should -BeExactly '0A1B2C3D'
    }

    It 'gives every time as a [datetime] of kind Utc, at the instant written' {
        $o = Convert-Item (Read-Item '{"kind":"secret","name":"s","expires":"2027-01-31T23:59:59.000Z","notBefore":"2026-01-01T00:00:00.000Z","created":"2026-12-02T06:00:00.500Z","updated":"2026-12-02T06:00:01.000Z"}') 'secret'
        foreach ($name in 'Expires', 'NotBefore', 'Created', 'Updated') {
            $o.$name | Should -BeOfType [datetime]
            $o.$name.Kind | Should -Be ([System.DateTimeKind]::Utc)
        }
        $o.Expires | Should -Be ([datetime]::new(2027, 1, 31, 23, 59, 59, [System.DateTimeKind]::Utc))
        $o.Created | Should -Be ([datetime]::new(2026, 12, 2, 6, 0, 0, 500, [System.DateTimeKind]::Utc))
    }

    It 'reads the item as a dictionary too, with the times still text (as Windows PowerShell 5.1 reads JSON)' {
        $item = @{ kind = 'secret'; vaultName = 'v1'; name = 's1'; created = '2026-12-02T06:00:00.000Z'; tags = @{ a = '1' } }
        $o = Convert-Item $item 'secret'
        $o.VaultName | Should -BeExactly 'v1'
        $o.Created | Should -Be ([datetime]::new(2026, 12, 2, 6, 0, 0, [System.DateTimeKind]::Utc))
        $o.Created.Kind | Should -Be ([System.DateTimeKind]::Utc)
        $o.Tags['a'] | Should -BeExactly '1'
    }

    It 'leaves a field the executable left out $null (Tags too, as Az does for an item without tags)' {
        $o = Convert-Item (Read-Item '{"kind":"key","name":"k1"}') 'key'
        $o.Name | Should -BeExactly 'k1'
        foreach ($name in 'VaultName', 'Version', 'Id', 'Enabled', 'Expires', 'NotBefore', 'Created', 'Updated', 'RecoveryLevel', 'Tags', 'KeyType', 'KeySize', 'CurveName') { $o.$name | Should -Be $null -Because $name }
        $o.IsHsm | Should -BeFalse
    }

    It 'refuses a kind it does not know' {
        { Convert-Item (Read-Item '{"name":"x"}') 'storage' } | Should -Throw
    }
}

Describe 'ConvertTo-UtcDate' {
    It 'reads <Label>' -ForEach @(
        @{ Label = 'ISO 8601 text in UTC'; Value = '2026-12-02T06:00:00.000Z' }
        @{ Label = 'ISO 8601 text with an offset'; Value = '2026-12-02T07:00:00+01:00' }
        @{ Label = 'a Utc [datetime]'; Value = [datetime]::new(2026, 12, 2, 6, 0, 0, [System.DateTimeKind]::Utc) }
        @{ Label = 'a Local [datetime]'; Value = [datetime]::new(2026, 12, 2, 6, 0, 0, [System.DateTimeKind]::Utc).ToLocalTime() }
        @{ Label = 'a [DateTimeOffset]'; Value = [System.DateTimeOffset]::new(2026, 12, 2, 8, 0, 0, [System.TimeSpan]::FromHours(2)) }
    ) {
        $d = InModuleScope Az.KeyVault.Backup -Parameters @{ Value = $Value } { ConvertTo-UtcDate -Value $Value }
        $d | Should -BeOfType [datetime]
        $d.Kind | Should -Be ([System.DateTimeKind]::Utc)
        $d | Should -Be ([datetime]::new(2026, 12, 2, 6, 0, 0, [System.DateTimeKind]::Utc))
    }

    It 'is nothing for <Label>' -ForEach @(
        @{ Label = 'null'; Value = $null }
        @{ Label = 'text that is no time'; Value = 'soon' }
        @{ Label = 'the empty string'; Value = '' }
    ) {
        InModuleScope Az.KeyVault.Backup -Parameters @{ Value = $Value } { ConvertTo-UtcDate -Value $Value } | Should -Be $null
    }
}
