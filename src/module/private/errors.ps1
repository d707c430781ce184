function New-ErrorRecord {
    param(
        [string]$Message,
        [string]$ErrorId,
        [System.Management.Automation.ErrorCategory]$Category,
        $TargetObject,
        [System.Exception]$InnerException
    )
    if ($null -ne $InnerException) { $exception = [System.InvalidOperationException]::new($Message, $InnerException) }
    else { $exception = [System.InvalidOperationException]::new($Message) }
    return [System.Management.Automation.ErrorRecord]::new($exception, $ErrorId, $Category, $TargetObject)
}

function ConvertTo-ErrorCategory {
    param([string]$Name)
    $category = [System.Management.Automation.ErrorCategory]::NotSpecified
    if ($Name) {
        try { $category = [System.Management.Automation.ErrorCategory]$Name } catch { $category = [System.Management.Automation.ErrorCategory]::NotSpecified }
    }
    return $category
}
