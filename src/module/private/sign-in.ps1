# Az contexts by identity, each with the short name the executable keys its tokens by.
$script:ContextNames = @{}

function Get-AzContextFromProfile {
    # -DefaultProfile takes what Get-AzContext returns (a context) or a context container
    # (what Connect-AzAccount returns), whose DefaultContext is the one Az cmdlets use.
    param($DefaultProfile)
    $container = $DefaultProfile.PSObject.Properties['DefaultContext']
    if ($null -ne $container -and $null -ne $container.Value) { return $container.Value }
    return $DefaultProfile
}

function Get-PropertyText {
    param($Object, [string]$Name)
    if ($null -eq $Object) { return $null }
    $property = $Object.PSObject.Properties[$Name]
    if ($null -eq $property -or $null -eq $property.Value) { return $null }
    $text = [string]$property.Value
    if ($text.Length -eq 0) { return $null }
    return $text
}

function Initialize-AzSignIn {
    # Signs in the way Az does when Az.Accounts is loaded and has a context (or -DefaultProfile is
    # given): the context's cloud gives the vault DNS suffix and Key Vault resource, and the
    # executable asks for its tokens over the protocol (tokenRequest), which are sent over stdin
    # only. Each context gets a name of its own, so the executable never gives one context's token
    # to another. Az is never imported here: only a loaded Az.Accounts counts.
    param([hashtable]$State)
    $profileGiven = $null -ne $State.DefaultProfile
    $accounts = @(Get-Module -Name 'Az.Accounts')[0]
    $context = $null
    if ($profileGiven) {
        $context = Get-AzContextFromProfile -DefaultProfile $State.DefaultProfile
    }
    else {
        # Get-Module, not Get-Command: it costs a fraction of a millisecond instead of tens, on every call.
        $getContext = $null
        if ($null -ne $accounts) { $getContext = $accounts.ExportedCommands['Get-AzContext'] }
        if ($null -eq $getContext) {
            if ($State.VerboseOn) { Write-Verbose 'Az.Accounts is not loaded: az-keyvault-backup signs in by itself (environment, managed identity, Azure CLI, Azure PowerShell).' }
            return
        }
        try { $context = & $getContext -ErrorAction Stop }
        catch {
            Write-Verbose ('Get-AzContext failed ({0}): az-keyvault-backup signs in by itself.' -f $_.Exception.Message)
            return
        }
        if ($null -eq $context) {
            Write-Verbose 'Az.Accounts is loaded but has no context (Connect-AzAccount was not run): az-keyvault-backup signs in by itself.'
            return
        }
    }

    $environment = $null
    $environmentProperty = $context.PSObject.Properties['Environment']
    if ($null -ne $environmentProperty) { $environment = $environmentProperty.Value }
    $suffix = Get-PropertyText -Object $environment -Name 'AzureKeyVaultDnsSuffix'
    if ($null -ne $suffix) { $State.DnsSuffix = $suffix.TrimStart([char]'.') }
    $resource = Get-PropertyText -Object $environment -Name 'AzureKeyVaultServiceEndpointResourceId'
    if ($null -eq $resource) { $resource = $script:PublicKeyVaultResource }
    $hsmResource = Get-ManagedHsmResource -Environment $environment

    $tokenCommand = $null
    if ($null -ne $accounts) { $tokenCommand = $accounts.ExportedCommands['Get-AzAccessToken'] }
    if ($null -eq $tokenCommand) {
        $text = 'Get-AzAccessToken (Az.Accounts) is not loaded, so the Az context cannot give a token: az-keyvault-backup signs in by itself.'
        if ($profileGiven) { Write-Warning ('-DefaultProfile was given, but ' + $text) } else { Write-Verbose $text }
        return
    }

    $tenantId = Get-PropertyText -Object $context.Tenant -Name 'Id'
    $account = Get-PropertyText -Object $context.Account -Name 'Id'
    # Which identity a token would be for: a different account, tenant, cloud, context or profile
    # is a different name, so their tokens are never mixed up in the executable.
    $identity = @($account, $tenantId, (Get-PropertyText -Object $environment -Name 'Name'), $resource, (Get-PropertyText -Object $context -Name 'Name'), $profileGiven) -join "`n"
    $name = $script:ContextNames[$identity]
    if ($null -eq $name) {
        $name = 'az{0}' -f ($script:ContextNames.Count + 1)
        $script:ContextNames[$identity] = $name
    }
    $State.Context = $name
    $State.SignIn = @{ Command = $tokenCommand; Profile = $State.DefaultProfile; Resource = $resource; HsmResource = $hsmResource; TenantId = $tenantId; Account = $account }
    Write-Verbose ("Signing in with the Az context: account '{0}', tenant {1}, Key Vault resource {2}, vault DNS suffix {3}." -f $account, $tenantId, $resource, $State.DnsSuffix)
}

function Get-ManagedHsmResource {
    # The Managed HSM token audience of an Az environment: ManagedHsmServiceEndpointResourceId, a
    # property or one of its ExtendedProperties; the public cloud's when it names none.
    param($Environment)
    $resource = Get-PropertyText -Object $Environment -Name 'ManagedHsmServiceEndpointResourceId'
    if ($null -eq $resource -and $null -ne $Environment) {
        $extended = $Environment.PSObject.Properties['ExtendedProperties']
        if ($null -ne $extended -and $null -ne $extended.Value) {
            # An IDictionary<string, string> in Az; ContainsKey is on it and on a hashtable alike.
            try { if ($extended.Value.ContainsKey('ManagedHsmServiceEndpointResourceId')) { $resource = [string]$extended.Value['ManagedHsmServiceEndpointResourceId'] } }
            catch { $resource = $null }
        }
    }
    if (-not $resource) { $resource = $script:PublicManagedHsmResource }
    return $resource
}

function Test-TokenResource {
    # Whether the executable may have a token for the resource it asks for: only an https resource
    # the context's environment knows (its Key Vault one, or its Managed HSM one), so a server whose
    # challenge names another audience never gets a token of this context for it.
    param([hashtable]$SignIn, [string]$Resource)
    if (-not $Resource.StartsWith('https://', [System.StringComparison]::OrdinalIgnoreCase)) { return $false }
    $asked = $Resource.TrimEnd([char]'/')
    foreach ($known in @($SignIn.Resource, $SignIn.HsmResource)) {
        if ($known -and [string]::Equals($asked, ([string]$known).TrimEnd([char]'/'), [System.StringComparison]::OrdinalIgnoreCase)) { return $true }
    }
    return $false
}

function Resolve-TokenRequest {
    # The executable asks when it has no fresh token of that context for the tenant the vault's
    # challenge names; it waits a bounded time and otherwise uses its own credential chain. Resource:
    # the audience the challenge names when it is not the vault one (a Managed HSM).
    param($Session, $Pipeline, [string]$Context, [string]$TenantId, [string]$Resource)
    $signIn = $Session.Contexts[$Context]
    $declined = $null
    if ($null -eq $signIn) { $declined = 'this session has no Az context of that name' }
    elseif ($Resource -and -not (Test-TokenResource -SignIn $signIn -Resource $Resource)) {
        $declined = "the resource '{0}' is neither the Key Vault nor the Managed HSM resource of the Az context's environment" -f $Resource
    }
    else {
        $tenantArgument = $TenantId
        if ($TenantId -and $signIn.TenantId -and $TenantId -eq $signIn.TenantId) { $tenantArgument = $null }
        try {
            $token = Get-AzKeyVaultToken -SignIn $signIn -TenantId $tenantArgument -Resource $Resource
            if ($TenantId) { $token.TenantId = $TenantId }
            if (-not $Pipeline.Quiet) { Write-Verbose ('Gave az-keyvault-backup a token for {1}, tenant {0}, from the Az context.' -f $token.TenantId, $token.Resource) }
            $message = [ordered]@{ type = 'token'; context = $Context; token = $token.Token; expiresOn = $token.ExpiresOn }
            if ($token.TenantId) { $message.tenantId = $token.TenantId }
            # The executable uses a token only for the resource it was issued for.
            if ($token.Resource) { $message.resource = $token.Resource }
            Send-SessionLine -Session $Session -Pipeline $Pipeline -Line (ConvertTo-ProtocolLine -Message $message)
            return
        }
        catch {
            if ($_.Exception -is [System.Management.Automation.PipelineStoppedException]) { throw }
            $declined = $_.Exception.Message
        }
        if (-not $Pipeline.Quiet -and -not $Session.WarnedContexts.ContainsKey($Context)) {
            $Session.WarnedContexts[$Context] = $true
            Write-Warning ('The Az context of {0} could not give a Key Vault token ({1}); az-keyvault-backup signs in by itself.' -f $signIn.Account, $declined)
        }
    }
    if (-not $Pipeline.Quiet) { Write-Verbose ('No Key Vault token from the Az context for tenant {0}: {1}' -f $TenantId, $declined) }
    $reply = [ordered]@{ type = 'tokenUnavailable'; context = $Context; message = [string]$declined }
    if ($TenantId) { $reply.tenantId = $TenantId }
    if ($Resource) { $reply.resource = $Resource }
    Send-SessionLine -Session $Session -Pipeline $Pipeline -Line (ConvertTo-ProtocolLine -Message $reply)
}

function ConvertTo-EpochSeconds {
    # DateTimeOffset.ToUnixTimeSeconds needs .NET Framework 4.6; Windows PowerShell 5.1 may run on 4.5.
    param([System.DateTimeOffset]$Time)
    $epoch = [System.DateTimeOffset]::new(1970, 1, 1, 0, 0, 0, [System.TimeSpan]::Zero)
    return [long][System.Math]::Floor(($Time - $epoch).TotalSeconds)
}

function Get-AzKeyVaultToken {
    # The token comes back as a SecureString from Az.Accounts 5 on and as a string before; it is
    # turned into text only to be written to the executable's stdin, and never logged.
    # Resource: another audience than the context's Key Vault one (a Managed HSM's), already checked.
    param([hashtable]$SignIn, [string]$TenantId, [string]$Resource)
    $forVault = -not $Resource
    if ($forVault) { $Resource = $SignIn.Resource }
    $arguments = @{ ResourceUrl = $Resource; ErrorAction = 'Stop'; WarningAction = 'SilentlyContinue' }
    if ($null -ne $SignIn.Profile) { $arguments.DefaultProfile = $SignIn.Profile }
    if ($TenantId) { $arguments.TenantId = $TenantId }
    $answer = & $SignIn.Command @arguments | Select-Object -First 1
    if ($null -eq $answer -or $null -eq $answer.Token) { throw 'Get-AzAccessToken returned no token.' }
    $secret = $answer.Token
    if ($secret -is [System.Security.SecureString]) { $text = [System.Net.NetworkCredential]::new('', $secret).Password }
    else { $text = [string]$secret }
    if (-not $text) { throw 'Get-AzAccessToken returned an empty token.' }
    $expires = $answer.ExpiresOn
    if ($expires -is [System.DateTimeOffset]) { $epoch = ConvertTo-EpochSeconds -Time $expires }
    elseif ($expires -is [System.DateTime]) { $epoch = ConvertTo-EpochSeconds -Time ([System.DateTimeOffset]$expires.ToUniversalTime()) }
    else { $epoch = (ConvertTo-EpochSeconds -Time ([System.DateTimeOffset]::UtcNow)) + $script:UnknownTokenLifetimeSeconds }
    $tenant = $TenantId
    if (-not $tenant) { $tenant = Get-PropertyText -Object $answer -Name 'TenantId' }
    if (-not $tenant) { $tenant = $SignIn.TenantId }
    if (-not $TenantId -and $forVault) { $SignIn.ExpiresOn = [long]$epoch }
    return @{ Token = $text; ExpiresOn = [long]$epoch; TenantId = $tenant; Resource = $Resource }
}
