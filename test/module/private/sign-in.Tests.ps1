# src/module/private/sign-in.ps1: which token audiences the executable may ask an Az context for
# (its Key Vault one, its Managed HSM one), and the answer to a tokenRequest that names a resource.

BeforeAll {
    Import-Module ([System.IO.Path]::Combine($PSScriptRoot, '..', '..', '..', 'Az.KeyVault.Backup.psd1')) -Force
}

Describe 'Get-ManagedHsmResource' {
    It 'reads <Label>' -ForEach @(
        @{ Label = 'the property of an environment'; Make = { [pscustomobject]@{ ManagedHsmServiceEndpointResourceId = 'https://managedhsm.azure.cn' } }; Expected = 'https://managedhsm.azure.cn' }
        @{ Label = "one of an environment's ExtendedProperties"; Make = { $d = [System.Collections.Generic.Dictionary[string, string]]::new(); $d['ManagedHsmServiceEndpointResourceId'] = 'https://managedhsm.usgovcloudapi.net'; [pscustomobject]@{ ExtendedProperties = $d } }; Expected = 'https://managedhsm.usgovcloudapi.net' }
        @{ Label = "the public cloud's when the environment names none"; Make = { [pscustomobject]@{ Name = 'AzureCloud' } }; Expected = 'https://managedhsm.azure.net' }
        @{ Label = "the public cloud's without an environment"; Make = { $null }; Expected = 'https://managedhsm.azure.net' }
    ) {
        $environment = & $Make
        InModuleScope Az.KeyVault.Backup -Parameters @{ Environment = $environment } { Get-ManagedHsmResource -Environment $Environment } | Should -BeExactly $Expected
    }
}

Describe 'Test-TokenResource' {
    BeforeAll {
        $script:SignIn = @{ Resource = 'https://vault.azure.net'; HsmResource = 'https://managedhsm.azure.net' }
    }

    It "accepts '<Resource>'" -ForEach @(
        @{ Resource = 'https://vault.azure.net' }
        @{ Resource = 'https://vault.azure.net/' }
        @{ Resource = 'https://managedhsm.azure.net' }
        @{ Resource = 'HTTPS://ManagedHsm.Azure.Net/' }
    ) {
        InModuleScope Az.KeyVault.Backup -Parameters @{ SignIn = $script:SignIn; Resource = $Resource } { Test-TokenResource -SignIn $SignIn -Resource $Resource } | Should -BeTrue
    }

    It "refuses '<Resource>'" -ForEach @(
        @{ Resource = 'http://managedhsm.azure.net' }
        @{ Resource = 'https://evil.example' }
        @{ Resource = 'https://managedhsm.azure.net.evil.example' }
        @{ Resource = 'https://management.azure.com' }
        @{ Resource = 'managedhsm.azure.net' }
    ) {
        InModuleScope Az.KeyVault.Backup -Parameters @{ SignIn = $script:SignIn; Resource = $Resource } { Test-TokenResource -SignIn $SignIn -Resource $Resource } | Should -BeFalse
    }
}

Describe 'Resolve-TokenRequest' {
    BeforeAll {
        # A session whose one context asks a stand-in Get-AzAccessToken; the lines it would write are kept.
        function Resolve-Here([string]$Resource) {
            InModuleScope Az.KeyVault.Backup -Parameters @{ Resource = $Resource } {
                $script:TestLines = [System.Collections.Generic.List[string]]::new()
                $script:TestAsked = [System.Collections.Generic.List[string]]::new()
                Mock Send-SessionLine { $script:TestLines.Add($Line) }
                $command = { param($ResourceUrl, $TenantId, $DefaultProfile) $script:TestAsked.Add($ResourceUrl); [pscustomobject]@{ Token = 'tok-' + $ResourceUrl; ExpiresOn = [System.DateTimeOffset]::UtcNow.AddHours(1); TenantId = 't1' } }
                $signIn = @{ Command = $command; Profile = $null; Resource = 'https://vault.azure.net'; HsmResource = 'https://managedhsm.azure.net'; TenantId = 't1'; Account = 'a' }
                $session = @{ Contexts = @{ az1 = $signIn }; WarnedContexts = @{} }
                $pipeline = @{ Quiet = $true }
                Resolve-TokenRequest -Session $session -Pipeline $pipeline -Context 'az1' -TenantId 't1' -Resource $Resource
                @{ Lines = @($script:TestLines | ForEach-Object { ConvertFrom-Json $_ }); Asked = @($script:TestAsked) }
            }
        }
    }

    It 'answers a request without a resource with a token of the Key Vault resource' {
        $r = Resolve-Here ''
        $r.Asked | Should -Be @('https://vault.azure.net')
        $r.Lines[0].type | Should -BeExactly 'token'
        $r.Lines[0].resource | Should -BeExactly 'https://vault.azure.net'
    }

    It "answers a Managed HSM's resource with a token of that resource, named in the line" {
        $r = Resolve-Here 'https://managedhsm.azure.net'
        $r.Asked | Should -Be @('https://managedhsm.azure.net')
        $r.Lines[0].type | Should -BeExactly 'token'
        $r.Lines[0].resource | Should -BeExactly 'https://managedhsm.azure.net'
        $r.Lines[0].token | Should -BeExactly 'tok-https://managedhsm.azure.net'
    }

    It 'answers tokenUnavailable for a resource the environment does not know, without asking Az' {
        $r = Resolve-Here 'https://evil.example'
        $r.Asked.Count | Should -Be 0
        $r.Lines[0].type | Should -BeExactly 'tokenUnavailable'
        $r.Lines[0].context | Should -BeExactly 'az1'
        $r.Lines[0].resource | Should -BeExactly 'https://evil.example'
    }
}
