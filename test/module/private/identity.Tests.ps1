# src/module/private/identity.ps1: which vault (or Managed HSM) and item an input object, a vault
# object, a resource id or a secret URI names.

BeforeAll {
    Import-Module ([System.IO.Path]::Combine($PSScriptRoot, '..', '..', '..', 'Az.KeyVault.Backup.psd1')) -Force
}

Describe 'Get-ItemIdentity' {
    It 'reads VaultName and Name from <Label>' -ForEach @(
        @{ Label = 'an object with those properties (as Get-AzKeyVaultSecret emits)'; Make = { [pscustomobject]@{ VaultName = 'v1'; Name = 's1'; Version = 'x' } } }
        @{ Label = 'a hashtable'; Make = { @{ VaultName = 'v1'; Name = 's1' } } }
        @{ Label = 'a hashtable with other casing'; Make = { @{ vaultname = 'v1'; NAME = 's1' } } }
        @{ Label = 'an ordered dictionary'; Make = { [ordered]@{ Name = 's1'; VaultName = 'v1' } } }
        @{ Label = 'a generic dictionary'; Make = { $d = [System.Collections.Generic.Dictionary[string, object]]::new(); $d['VaultName'] = 'v1'; $d['Name'] = 's1'; , $d } }
        @{ Label = 'an instance of a class with those properties'; Make = { Invoke-Expression 'class AzkvbTestSecretItem { [string]$VaultName = "v1"; [string]$Name = "s1" }; [AzkvbTestSecretItem]::new()' } }
        @{ Label = 'an object whose properties are not strings'; Make = { [pscustomobject]@{ VaultName = [System.Text.StringBuilder]::new('v1'); Name = [uri]::new('s1', [System.UriKind]::Relative) } } }
    ) {
        $object = & $Make
        $identity = InModuleScope Az.KeyVault.Backup -Parameters @{ Object = $object } { Get-ItemIdentity -InputObject $Object }
        $identity | Should -BeOfType [hashtable]
        $identity.VaultName | Should -BeExactly 'v1'
        $identity.Name | Should -BeExactly 's1'
        $identity.VaultName | Should -BeOfType [string]
        $identity.Name | Should -BeOfType [string]
        $identity.IsHsm | Should -BeFalse
    }

    It 'reads <Label> as a key of a Managed HSM' -ForEach @(
        @{ Label = 'an Az key object with IsHsm true'; Make = { [pscustomobject]@{ VaultName = 'hsm1'; Name = 'k1'; IsHsm = $true } } }
        @{ Label = 'a dictionary with IsHsm true'; Make = { @{ VaultName = 'hsm1'; Name = 'k1'; IsHsm = $true } } }
    ) {
        $object = & $Make
        $identity = InModuleScope Az.KeyVault.Backup -Parameters @{ Object = $object } { Get-ItemIdentity -InputObject $Object }
        $identity.VaultName | Should -BeExactly 'hsm1'
        $identity.Name | Should -BeExactly 'k1'
        $identity.IsHsm | Should -BeTrue
    }

    It 'reads <Label> as an item of a key vault' -ForEach @(
        @{ Label = 'IsHsm false'; Value = $false }
        @{ Label = 'IsHsm null'; Value = $null }
        @{ Label = "IsHsm the text 'true' (only a real true counts)"; Value = 'true' }
        @{ Label = 'IsHsm 1'; Value = 1 }
    ) {
        $identity = InModuleScope Az.KeyVault.Backup -Parameters @{ Value = $Value } { Get-ItemIdentity -InputObject ([pscustomobject]@{ VaultName = 'v1'; Name = 'k1'; IsHsm = $Value }) }
        $identity.IsHsm | Should -BeFalse
    }

    It 'reads a certificate object as Get-AzKeyVaultCertificate emits it (VaultName, Name and more)' {
        $certificate = [pscustomobject]@{ VaultName = 'v1'; Name = 'c1'; Version = 'x'; Thumbprint = 'AB'; KeyId = 'https://v1.vault.azure.net/keys/c1/x' }
        $identity = InModuleScope Az.KeyVault.Backup -Parameters @{ Object = $certificate } { Get-ItemIdentity -InputObject $Object }
        $identity.VaultName | Should -BeExactly 'v1'
        $identity.Name | Should -BeExactly 'c1'
    }

    It 'turns a number-valued property into its text' {
        $identity = InModuleScope Az.KeyVault.Backup { Get-ItemIdentity -InputObject ([pscustomobject]@{ VaultName = 'v'; Name = 42 }) }
        $identity.Name | Should -BeExactly '42'
    }

    It 'is nothing for <Label>' -ForEach @(
        @{ Label = 'null'; Make = { $null } }
        @{ Label = 'a string'; Make = { 'v1/s1' } }
        @{ Label = 'an int'; Make = { 5 } }
        @{ Label = 'a value type with a Name-like shape'; Make = { [System.Collections.Generic.KeyValuePair[string, string]]::new('VaultName', 'Name') } }
        @{ Label = 'a date'; Make = { [datetime]::UtcNow } }
        @{ Label = 'an object without Name'; Make = { [pscustomobject]@{ VaultName = 'v1' } } }
        @{ Label = 'an object without VaultName'; Make = { [pscustomobject]@{ Name = 's1' } } }
        @{ Label = 'an object with an empty VaultName'; Make = { [pscustomobject]@{ VaultName = ''; Name = 's1' } } }
        @{ Label = 'an object with an empty Name'; Make = { [pscustomobject]@{ VaultName = 'v1'; Name = '' } } }
        @{ Label = 'an object with a null Name'; Make = { [pscustomobject]@{ VaultName = 'v1'; Name = $null } } }
        @{ Label = 'a dictionary without Name'; Make = { @{ VaultName = 'v1' } } }
        @{ Label = 'a dictionary with an empty Name'; Make = { @{ VaultName = 'v1'; Name = '' } } }
        @{ Label = 'a generic dictionary without Name'; Make = { $d = [System.Collections.Generic.Dictionary[string, object]]::new(); $d['VaultName'] = 'v1'; , $d } }
        @{ Label = 'an empty hashtable'; Make = { @{} } }
    ) {
        $object = & $Make
        InModuleScope Az.KeyVault.Backup -Parameters @{ Object = $object } { Get-ItemIdentity -InputObject $Object } | Should -Be $null
    }

    It 'is nothing for <Label> dressed with VaultName and Name notes' -ForEach @(
        @{ Label = 'a string'; Value = 'v1/s1' }
        @{ Label = 'a number'; Value = 5 }
    ) {
        # Made and passed in the module's scope: a string's notes do not survive the trip in.
        $got = InModuleScope Az.KeyVault.Backup -Parameters @{ Value = $Value } {
            $dressed = $Value | Add-Member -NotePropertyName VaultName -NotePropertyValue 'v1' -PassThru | Add-Member -NotePropertyName Name -NotePropertyValue 's1' -PassThru
            @{ Notes = $dressed.PSObject.Properties['VaultName'].Value; Identity = Get-ItemIdentity -InputObject $dressed }
        }
        $got.Notes | Should -BeExactly 'v1'
        $got.Identity | Should -Be $null
    }

    It "reads a dictionary's keys, not the properties of the dictionary object itself" {
        # A hashtable has a Keys property and so on, but no VaultName or Name property to read.
        $identity = InModuleScope Az.KeyVault.Backup { Get-ItemIdentity -InputObject (@{ VaultName = 'v1'; Name = 's1' } | Add-Member -NotePropertyName Name -NotePropertyValue 'other' -PassThru -Force) }
        $identity.Name | Should -BeExactly 's1'
    }
}

Describe 'Get-VaultIdentity' {
    It 'reads the vault name of <Label>' -ForEach @(
        @{ Label = 'a vault object (as Get-AzKeyVault emits)'; Make = { [pscustomobject]@{ VaultName = 'v1'; ResourceGroupName = 'rg'; ResourceId = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v1' } } }
        @{ Label = 'a Managed HSM object (as Get-AzKeyVaultManagedHsm emits)'; Make = { [pscustomobject]@{ VaultName = 'v1'; Name = 'v1'; Sku = 'StandardB1' } } }
        @{ Label = 'a hashtable'; Make = { @{ VaultName = 'v1' } } }
        @{ Label = 'a non-string VaultName'; Make = { [pscustomobject]@{ VaultName = [System.Text.StringBuilder]::new('v1') } } }
    ) {
        $object = & $Make
        InModuleScope Az.KeyVault.Backup -Parameters @{ Object = $object } { Get-VaultIdentity -InputObject $Object } | Should -BeExactly 'v1'
    }

    It 'is nothing for <Label>' -ForEach @(
        @{ Label = 'null'; Make = { $null } }
        @{ Label = 'a string'; Make = { 'v1' } }
        @{ Label = 'a number'; Make = { 7 } }
        @{ Label = 'an object without VaultName'; Make = { [pscustomobject]@{ Name = 'v1' } } }
        @{ Label = 'an empty VaultName'; Make = { [pscustomobject]@{ VaultName = '' } } }
        @{ Label = 'a dictionary without VaultName'; Make = { @{ Name = 'v1' } } }
        @{ Label = 'a file'; Make = { [System.IO.FileInfo]::new('/tmp/v1') } }
    ) {
        $object = & $Make
        InModuleScope Az.KeyVault.Backup -Parameters @{ Object = $object } { Get-VaultIdentity -InputObject $Object } | Should -Be $null
    }
}

Describe 'Get-ResourceIdName' {
    It 'reads <Name> from <ResourceId>' -ForEach @(
        @{ ResourceId = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/myvault'; Name = 'myvault' }
        @{ ResourceId = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/managedHSMs/myhsm'; Name = 'myhsm' }
        @{ ResourceId = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/myvault/'; Name = 'myvault' }
        @{ ResourceId = '/SUBSCRIPTIONS/s/RESOURCEGROUPS/rg/PROVIDERS/Microsoft.KeyVault/vaults/CaseKept'; Name = 'CaseKept' }
        @{ ResourceId = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v/secrets/child'; Name = 'child' }
    ) {
        InModuleScope Az.KeyVault.Backup -Parameters $_ { Get-ResourceIdName -ResourceId $ResourceId } | Should -BeExactly $Name
    }

    It "gives no name for '<ResourceId>'" -ForEach @(
        @{ ResourceId = '' }
        @{ ResourceId = 'myvault' }
        @{ ResourceId = 'https://myvault.vault.azure.net/' }
        @{ ResourceId = '/subscriptions/s/resourceGroups/rg' }
        @{ ResourceId = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults' }
        @{ ResourceId = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v/secrets' }
        @{ ResourceId = '/subscriptions//resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v' }
        @{ ResourceId = 'subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v' }
        @{ ResourceId = '/tenants/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v' }
    ) {
        InModuleScope Az.KeyVault.Backup -Parameters $_ { Get-ResourceIdName -ResourceId $ResourceId } | Should -Be $null
    }
}

Describe 'Get-SecretUriParts' {
    It 'reads vault <Vault> and name <Name> from <Uri>' -ForEach @(
        @{ Uri = 'https://myvault.vault.azure.net/secrets/db-password'; Vault = 'myvault'; Name = 'db-password' }
        @{ Uri = 'https://myvault.vault.azure.net/secrets/db-password/0123456789abcdef0123456789abcdef'; Vault = 'myvault'; Name = 'db-password' }
        @{ Uri = 'https://myvault.vault.azure.net:443/secrets/s/'; Vault = 'myvault'; Name = 's' }
        @{ Uri = 'https://myvault.vault.usgovcloudapi.net/secrets/s'; Vault = 'myvault'; Name = 's' }
        @{ Uri = 'https://MyVault.Vault.Azure.Net/secrets/CaseKept'; Vault = 'myvault'; Name = 'CaseKept' }
        @{ Uri = 'https://myvault.vault.azure.net/secrets/a%20b%2Fc'; Vault = 'myvault'; Name = 'a b/c' }
        @{ Uri = 'https://localhost:8443/secrets/s'; Vault = 'localhost'; Name = 's' }
    ) {
        $parts = InModuleScope Az.KeyVault.Backup -Parameters $_ { Get-SecretUriParts -Id $Uri }
        $parts.VaultName | Should -BeExactly $Vault
        $parts.Name | Should -BeExactly $Name
    }

    It "gives no parts for '<Uri>'" -ForEach @(
        @{ Uri = '' }
        @{ Uri = 'not a uri' }
        @{ Uri = 'secrets/s' }
        @{ Uri = 'https://myvault.vault.azure.net/' }
        @{ Uri = 'https://myvault.vault.azure.net/secrets' }
        @{ Uri = 'https://myvault.vault.azure.net/secrets/' }
        @{ Uri = 'https://myvault.vault.azure.net/keys/k' }
    ) {
        InModuleScope Az.KeyVault.Backup -Parameters $_ { Get-SecretUriParts -Id $Uri } | Should -Be $null
    }
}
