# src/module/private/restore-item.ps1: which vault or Managed HSM each parameter set of the Restore
# cmdlets names, the ShouldProcess target and action, and the 'restore' line's fields.

BeforeAll {
    Import-Module ([System.IO.Path]::Combine($PSScriptRoot, '..', '..', '..', 'Az.KeyVault.Backup.psd1')) -Force

    # Runs one item through Invoke-RestoreItem from an advanced function (for a real $PSCmdlet:
    # ShouldProcess, the PowerShell location), with the line it would send captured instead.
    # Returns @{ Sent = @(@{ Type; Fields; Target }); Queue = the pipeline's queue (local errors) }.
    function Invoke-Restore([string]$Kind, [hashtable]$Arguments, [switch]$WhatIf) {
        InModuleScope Az.KeyVault.Backup -Parameters @{ Kind = $Kind; Arguments = $Arguments; WhatIf = [bool]$WhatIf } {
            $script:TestSent = [System.Collections.Generic.List[object]]::new()
            Mock Send-ItemRequest { $script:TestSent.Add(@{ Type = $Type; Fields = $Fields; Target = $Target }); 1 }
            Mock Sync-Output { }
            function Invoke-RestoreHere {
                [CmdletBinding(SupportsShouldProcess)]
                param([string]$Kind, [hashtable]$Arguments)
                $state = New-PipelineState -Cmdlet $PSCmdlet -Operation 'restore' -Kind $Kind -ThrottleLimit 4 -LogLevel 'warning'
                Invoke-RestoreItem -State $state @Arguments
                $state
            }
            $state = Invoke-RestoreHere -Kind $Kind -Arguments $Arguments -WhatIf:$WhatIf
            @{ Sent = @($script:TestSent); Queue = @($state.Queue) }
        }
    }
    $script:ResourceId = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v1'
    $script:HsmResourceId = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.KeyVault/managedHSMs/h1'
}

Describe 'Invoke-RestoreItem' {
    BeforeEach { Push-Location -LiteralPath $TestDrive }
    AfterEach { Pop-Location }

    It 'sends vaultName <Vault> and the absolute input file for <Set>' -ForEach @(
        @{ Set = 'ByVaultName'; Kind = 'secret'; Vault = 'v1'; Arguments = @{ VaultName = 'v1' } }
        @{ Set = 'ByInputObject'; Kind = 'key'; Vault = 'v1'; Arguments = @{ InputObject = [pscustomobject]@{ VaultName = 'v1'; ResourceGroupName = 'rg' } } }
        @{ Set = 'ByParentResourceId'; Kind = 'secret'; Vault = 'v1'; Arguments = @{ ResourceId = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v1' } }
        @{ Set = 'ByResourceId'; Kind = 'certificate'; Vault = 'v1'; Arguments = @{ ResourceId = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v1' } }
        @{ Set = 'BySecretUri'; Kind = 'secret'; Vault = 'v1'; Arguments = @{ Id = 'https://v1.vault.azure.net/secrets/anything/0123' } }
    ) {
        $arguments = $Arguments.Clone()
        $arguments.ParameterSetName = $Set
        $arguments.InputFile = 'b.blob'
        $r = Invoke-Restore $Kind $arguments
        $r.Queue.Count | Should -Be 0 -Because 'no local error'
        $r.Sent.Count | Should -Be 1
        $r.Sent[0].Type | Should -BeExactly 'restore'
        $expectedFile = [System.IO.Path]::Combine($TestDrive, 'b.blob')
        $r.Sent[0].Fields | Should -BeExactly (',"vaultName":"{0}","inputFile":{1}' -f $Vault, (ConvertTo-Json -InputObject $expectedFile -Compress))
        $r.Sent[0].Target | Should -BeExactly $expectedFile
    }

    It 'sends hsmName <Hsm>, never vaultName, for <Set>' -ForEach @(
        @{ Set = 'HsmByVaultName'; Hsm = 'h1'; Arguments = @{ HsmName = 'h1' } }
        @{ Set = 'HsmByInputObject'; Hsm = 'h1'; Arguments = @{ InputObject = [pscustomobject]@{ VaultName = 'h1'; Name = 'h1' } } }
        @{ Set = 'HsmByResourceId'; Hsm = 'h1'; Arguments = @{ ResourceId = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/managedHSMs/h1' } }
    ) {
        $arguments = $Arguments.Clone()
        $arguments.ParameterSetName = $Set
        $arguments.InputFile = '/backups/k.blob'
        $r = Invoke-Restore 'key' $arguments
        $r.Sent.Count | Should -Be 1
        $r.Sent[0].Fields | Should -BeExactly (',"hsmName":"{0}","inputFile":"/backups/k.blob"' -f $Hsm)
    }

    It 'escapes a non-ASCII input file name on the ASCII-only protocol' {
        $r = Invoke-Restore 'secret' @{ ParameterSetName = 'ByVaultName'; VaultName = 'v1'; InputFile = '/b/sauvegarde-été.blob' }
        $r.Sent[0].Fields | Should -BeExactly ',"vaultName":"v1","inputFile":"/b/sauvegarde-\u00e9t\u00e9.blob"'
    }

    It 'does not check that the input file exists (the executable does, before any vault call)' {
        $r = Invoke-Restore 'secret' @{ ParameterSetName = 'ByVaultName'; VaultName = 'v1'; InputFile = 'no-such-file.blob' }
        $r.Sent.Count | Should -Be 1
        $r.Queue.Count | Should -Be 0
    }

    It 'fails the item locally with <ErrorId> for <Label>, sending nothing' -ForEach @(
        @{ Label = 'an input object without VaultName'; ErrorId = 'InvalidInputObject'; Arguments = @{ ParameterSetName = 'ByInputObject'; InputObject = [pscustomobject]@{ Name = 'x' } } }
        @{ Label = 'a string as the input object'; ErrorId = 'InvalidInputObject'; Arguments = @{ ParameterSetName = 'ByInputObject'; InputObject = 'v1' } }
        @{ Label = 'an HSM object without VaultName'; ErrorId = 'InvalidInputObject'; Arguments = @{ ParameterSetName = 'HsmByInputObject'; InputObject = @{ Name = 'h1' } } }
        @{ Label = 'a text that is no resource id'; ErrorId = 'InvalidResourceId'; Arguments = @{ ParameterSetName = 'ByResourceId'; ResourceId = 'v1' } }
        @{ Label = 'a secret URI that is none'; ErrorId = 'InvalidSecretId'; Arguments = @{ ParameterSetName = 'BySecretUri'; Id = 'https://v1.vault.azure.net/keys/k' } }
        @{ Label = 'an input file of another provider'; ErrorId = 'InvalidInputFile'; Arguments = @{ ParameterSetName = 'ByVaultName'; VaultName = 'v1'; InputFile = 'Variable:/x' } }
    ) {
        $arguments = $Arguments.Clone()
        if (-not $arguments.ContainsKey('InputFile')) { $arguments.InputFile = '/b/x.blob' }
        $r = Invoke-Restore 'key' $arguments
        $r.Sent.Count | Should -Be 0
        $r.Queue.Count | Should -Be 1
        $r.Queue[0].ErrorRecord.FullyQualifiedErrorId | Should -BeExactly $ErrorId
        $r.Queue[0].ErrorRecord.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::InvalidArgument)
    }

    It "asks ShouldProcess with the vault's name and 'Restore <Kind>', and sends nothing under -WhatIf" -ForEach @(
        @{ Kind = 'secret' }
        @{ Kind = 'key' }
        @{ Kind = 'certificate' }
    ) {
        $r = Invoke-Restore $Kind @{ ParameterSetName = 'ByVaultName'; VaultName = 'v1'; InputFile = '/b/x.blob' } -WhatIf 6>&1
        $r.Sent.Count | Should -Be 0
        $r.Queue.Count | Should -Be 0
    }

    It 'refuses a parameter set it does not know' {
        { Invoke-Restore 'secret' @{ ParameterSetName = 'ByNothing'; InputFile = '/b/x.blob' } } | Should -Throw '*Unknown parameter set*'
    }
}
