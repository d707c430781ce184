# src/module/private/pipeline.ps1: what a pipeline sends once ('begin', with its item kind) and the
# one request line per item that follows it.

BeforeAll {
    Import-Module ([System.IO.Path]::Combine($PSScriptRoot, '..', '..', '..', 'Az.KeyVault.Backup.psd1')) -Force

    # A pipeline connected to a stand-in session whose stdin is a StringWriter: what it would write.
    function Connect-Here([string]$Operation, [string]$Kind, [int]$ThrottleLimit = 4, [object[]]$Requests) {
        InModuleScope Az.KeyVault.Backup -Parameters @{ Operation = $Operation; Kind = $Kind; ThrottleLimit = $ThrottleLimit; Requests = $Requests } {
            $writer = [System.IO.StringWriter]::new()
            $session = @{ NextPipeline = 3; NextId = [long]7; Pipelines = @{}; Pending = [System.Collections.Generic.Dictionary[string, object]]::new(); Contexts = @{}; Stdin = $writer }
            Mock Initialize-AzSignIn { }
            Mock Get-BackupSession { $session }
            Mock Sync-Output { }
            $state = New-PipelineState -Cmdlet $null -Operation $Operation -Kind $Kind -ThrottleLimit $ThrottleLimit -LogLevel 'warning'
            $ids = @()
            foreach ($request in @($Requests)) { if ($null -ne $request) { $ids += Send-ItemRequest -State $state -Type $request.Type -Fields $request.Fields -Target 't' } }
            if ($null -eq $Requests) { Connect-BackupPipeline -State $state }
            try { @{ Lines = @($writer.ToString().TrimEnd("`n") -split "`n"); BeginLine = $state.BeginLine; Ids = $ids; Queue = @($state.Queue) } }
            finally { [void]$script:LivePipelines.Remove($state) }
        }
    }
}

Describe 'Connect-BackupPipeline' {
    It "sends the pipeline's kind '<Kind>' once, in 'begin'" -ForEach @(
        @{ Kind = 'secret' }
        @{ Kind = 'key' }
        @{ Kind = 'certificate' }
    ) {
        $r = Connect-Here 'backup' $Kind 5
        $begin = ConvertFrom-Json -InputObject $r.BeginLine
        $begin.type | Should -BeExactly 'begin'
        $begin.pipeline | Should -Be 3
        $begin.kind | Should -BeExactly $Kind
        $begin.concurrency | Should -Be 5
    }
}

Describe 'Send-ItemRequest' {
    It "writes 'begin' with the first item only, then one line per item with its own id, queued in order" {
        $r = Connect-Here 'restore' 'key' -Requests @(
            @{ Type = 'restore'; Fields = ',"vaultName":"v","inputFile":"/b/1.blob"' }
            @{ Type = 'restore'; Fields = ',"hsmName":"h","inputFile":"/b/2.blob"' }
        )
        $r.Lines.Count | Should -Be 3
        (ConvertFrom-Json $r.Lines[0]).type | Should -BeExactly 'begin'
        (ConvertFrom-Json $r.Lines[0]).kind | Should -BeExactly 'key'
        $r.Lines[1] | Should -BeExactly '{"type":"restore","pipeline":3,"id":7,"vaultName":"v","inputFile":"/b/1.blob"}'
        $r.Lines[2] | Should -BeExactly '{"type":"restore","pipeline":3,"id":8,"hsmName":"h","inputFile":"/b/2.blob"}'
        $r.Ids | Should -Be @(7, 8)
        @($r.Queue | ForEach-Object { $_.Id }) | Should -Be @(7, 8)
        @($r.Queue | Where-Object { $_.Done }).Count | Should -Be 0
    }
}
