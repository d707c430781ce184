# What the module does once it is loaded, and when it is removed.

$script:SessionRegistry = Get-SessionRegistry

$ExecutionContext.SessionState.Module.OnRemove = {
    # Remove-Module and Import-Module -Force: every pipeline still open is cancelled, and each
    # session executable ends (stdin closed), so none outlives the module instance that started it.
    foreach ($state in @($script:LivePipelines.ToArray())) { Stop-BackupPipeline -State $state }
    foreach ($session in @($script:Sessions.ToArray())) { Close-BackupSession -Session $session -GraceMs $script:AbortGraceMs }
}

Export-ModuleMember -Function Backup-AzKeyVaultSecret, Backup-AzKeyVaultKey, Backup-AzKeyVaultCertificate, Restore-AzKeyVaultSecret, Restore-AzKeyVaultKey, Restore-AzKeyVaultCertificate
