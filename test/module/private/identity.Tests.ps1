# src/module/private/identity.ps1: which vault and secret an input object or a secret URI names.

BeforeAll {
    Import-Module ([System.IO.Path]::Combine($PSScriptRoot, '..', '..', '..', 'Az.KeyVault.Backup.psd1')) -Force
}

Describe 'Get-SecretIdentity' {
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
        $identity = InModuleScope Az.KeyVault.Backup -Parameters @{ Object = $object } { Get-SecretIdentity -InputObject $Object }
        $identity | Should -BeOfType [hashtable]
        $identity.VaultName | Should -BeExactly 'v1'
        $identity.Name | Should -BeExactly 's1'
        $identity.VaultName | Should -BeOfType [string]
        $identity.Name | Should -BeOfType [string]
    }

    It 'turns a number-valued property into its text' {
        $identity = InModuleScope Az.KeyVault.Backup { Get-SecretIdentity -InputObject ([pscustomobject]@{ VaultName = 'v'; Name = 42 }) }
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
        InModuleScope Az.KeyVault.Backup -Parameters @{ Object = $object } { Get-SecretIdentity -InputObject $Object } | Should -Be $null
    }

    It 'is nothing for <Label> dressed with VaultName and Name notes' -ForEach @(
        @{ Label = 'a string'; Value = 'v1/s1' }
        @{ Label = 'a number'; Value = 5 }
    ) {
        # Made and passed in the module's scope: a string's notes do not survive the trip in.
        $got = InModuleScope Az.KeyVault.Backup -Parameters @{ Value = $Value } {
            $dressed = $Value | Add-Member -NotePropertyName VaultName -NotePropertyValue 'v1' -PassThru | Add-Member -NotePropertyName Name -NotePropertyValue 's1' -PassThru
            @{ Notes = $dressed.PSObject.Properties['VaultName'].Value; Identity = Get-SecretIdentity -InputObject $dressed }
        }
        $got.Notes | Should -BeExactly 'v1'
        $got.Identity | Should -Be $null
    }

    It "reads a dictionary's keys, not the properties of the dictionary object itself" {
        # A hashtable has a Keys property and so on, but no VaultName or Name property to read.
        $identity = InModuleScope Az.KeyVault.Backup { Get-SecretIdentity -InputObject (@{ VaultName = 'v1'; Name = 's1' } | Add-Member -NotePropertyName Name -NotePropertyValue 'other' -PassThru -Force) }
        $identity.Name | Should -BeExactly 's1'
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
