# src/module/private/protocol.ps1: the JSON lines the module writes to the executable, by hand
# rather than with ConvertTo-Json, so every awkward value is checked against a real JSON parser.

BeforeAll {
    Import-Module ([System.IO.Path]::Combine($PSScriptRoot, '..', '..', '..', 'Az.KeyVault.Backup.psd1')) -Force

    # What a JSON parser reads back from a JSON string literal (inside an object, so that no parser
    # quirk about top-level scalars is in play).
    function Read-JsonString([string]$Literal) {
        return (ConvertFrom-Json -InputObject ('{"v":' + $Literal + '}') -AsHashtable).v
    }
}

Describe 'ConvertTo-JsonString' {
    It 'gives back <Label> exactly through a JSON parser, in printable ASCII only' -ForEach @(
        @{ Label = 'the empty string'; Value = '' }
        @{ Label = 'a plain name'; Value = 'db-password-01' }
        @{ Label = 'quotes'; Value = 'say "hi"' }
        @{ Label = 'backslashes'; Value = 'C:\dir\' }
        @{ Label = 'a backslash before a quote'; Value = '\"' }
        @{ Label = 'every C0 control character'; Value = -join (0..31 | ForEach-Object { [char]$_ }) }
        @{ Label = 'DEL'; Value = "a$([char]0x7F)b" }
        @{ Label = 'Latin-1 letters'; Value = 'ünïcödé' }
        @{ Label = 'CJK'; Value = '名前' }
        @{ Label = 'a character outside the BMP (a surrogate pair)'; Value = [char]::ConvertFromUtf32(0x1F511) }
        @{ Label = 'the JavaScript line separators'; Value = "a$([char]0x2028)b$([char]0x2029)c" }
        @{ Label = 'a byte order mark'; Value = "$([char]0xFEFF)x" }
        @{ Label = 'slashes and braces'; Value = '{"a":[1]}/</script>' }
    ) {
        $json = InModuleScope Az.KeyVault.Backup -Parameters $_ { ConvertTo-JsonString -Value $Value }
        $json | Should -MatchExactly '^"[\x20-\x7E]*"$'
        Read-JsonString $json | Should -BeExactly $Value
    }

    It 'writes a printable ASCII value as itself between quotes' {
        InModuleScope Az.KeyVault.Backup { ConvertTo-JsonString -Value 'a b~!' } | Should -BeExactly '"a b~!"'
    }

    It 'escapes a quote and a backslash with a backslash, and a control character as \u' {
        InModuleScope Az.KeyVault.Backup { ConvertTo-JsonString -Value "`"\`n" } | Should -BeExactly '"\"\\\u000a"'
    }
}

Describe 'ConvertTo-ProtocolLine' {
    It 'writes a flat message as one JSON object, its keys in the order given' {
        $line = InModuleScope Az.KeyVault.Backup { ConvertTo-ProtocolLine -Message ([ordered]@{ type = 'backup'; id = 3; force = $true; after = $null; vault = 'v' }) }
        $line | Should -BeExactly '{"type":"backup","id":3,"force":true,"after":null,"vault":"v"}'
    }

    It 'writes one line: no raw line break whatever the values hold' {
        $line = InModuleScope Az.KeyVault.Backup { ConvertTo-ProtocolLine -Message ([ordered]@{ name = "a`r`nb"; list = @("c`nd") }) }
        $line | Should -Not -Match '[\r\n]'
    }

    It 'gives back <Label> through a JSON parser with its type' -ForEach @(
        @{ Label = 'an awkward string'; Value = "quote `" backslash \ tab `t é 名 $([char]::ConvertFromUtf32(0x1F511))"; Type = [string] }
        @{ Label = 'the empty string'; Value = ''; Type = [string] }
        @{ Label = 'an int'; Value = [int]42; Type = [long] }
        @{ Label = 'a negative int'; Value = [int]-7; Type = [long] }
        @{ Label = 'the largest int'; Value = [int]::MaxValue; Type = [long] }
        @{ Label = 'a long past 2^53'; Value = [long]9007199254740993; Type = [long] }
        @{ Label = 'a double'; Value = [double]1.5; Type = [double] }
        @{ Label = 'a double with no short binary form'; Value = [double]0.1; Type = [double] }
        @{ Label = 'a large double in exponent form'; Value = [double]1e20; Type = [double] }
        @{ Label = 'a tiny double in exponent form'; Value = [double]1.25e-7; Type = [double] }
        @{ Label = 'true'; Value = $true; Type = [bool] }
        @{ Label = 'false'; Value = $false; Type = [bool] }
    ) {
        $line = InModuleScope Az.KeyVault.Backup -Parameters $_ { ConvertTo-ProtocolLine -Message ([ordered]@{ v = $Value }) }
        $back = (ConvertFrom-Json -InputObject $line -AsHashtable).v
        $back | Should -BeOfType $Type
        $back | Should -BeExactly $Value
    }

    It 'writes null as JSON null' {
        $line = InModuleScope Az.KeyVault.Backup { ConvertTo-ProtocolLine -Message ([ordered]@{ v = $null }) }
        $parsed = ConvertFrom-Json -InputObject $line -AsHashtable
        $parsed.ContainsKey('v') | Should -BeTrue
        $parsed.v | Should -Be $null
    }

    It 'writes an array of strings as a JSON array, awkward items included' {
        $items = @('plain', 'say "hi"', 'C:\d\', "ctl`u{1}", 'é名')
        $line = InModuleScope Az.KeyVault.Backup -Parameters @{ Items = $items } { ConvertTo-ProtocolLine -Message ([ordered]@{ features = $Items }) }
        $back = (ConvertFrom-Json -InputObject $line -AsHashtable).features
        , $back | Should -BeOfType [object[]]
        $back | Should -BeExactly $items
    }

    It 'writes a one-item array as an array, not as its item' {
        $line = InModuleScope Az.KeyVault.Backup { ConvertTo-ProtocolLine -Message ([ordered]@{ features = @('tokenRequest') }) }
        $line | Should -BeExactly '{"features":["tokenRequest"]}'
    }

    It 'writes an empty array as []' {
        $line = InModuleScope Az.KeyVault.Backup { ConvertTo-ProtocolLine -Message ([ordered]@{ features = @() }) }
        $line | Should -BeExactly '{"features":[]}'
    }

    It 'writes numbers with a dot whatever the current culture' {
        $line = InModuleScope Az.KeyVault.Backup {
            $before = [System.Globalization.CultureInfo]::CurrentCulture
            try {
                [System.Globalization.CultureInfo]::CurrentCulture = [System.Globalization.CultureInfo]::GetCultureInfo('de-DE')
                ConvertTo-ProtocolLine -Message ([ordered]@{ d = [double]1234.5; n = [int]1234567 })
            }
            finally { [System.Globalization.CultureInfo]::CurrentCulture = $before }
        }
        $line | Should -BeExactly '{"d":1234.5,"n":1234567}'
    }

    It 'writes a message with every kind of value that a JSON parser reads whole' {
        $line = InModuleScope Az.KeyVault.Backup { ConvertTo-ProtocolLine -Message ([ordered]@{ type = 'token'; context = "ctx `"1`""; token = 'a.b.c'; expiresOn = [long]1700000000; ok = $false; tenantId = $null; features = @('x', 'y') }) }
        $parsed = ConvertFrom-Json -InputObject $line -AsHashtable
        @($parsed.Keys) | Should -BeExactly @('type', 'context', 'token', 'expiresOn', 'ok', 'tenantId', 'features')
        $parsed.context | Should -BeExactly 'ctx "1"'
        $parsed.expiresOn | Should -Be 1700000000
        $parsed.ok | Should -BeFalse
        $parsed.features | Should -BeExactly @('x', 'y')
    }
}

Describe 'Hide-Token' {
    It "replaces a token's value, and nothing else" {
        $line = '{"type":"token","context":"c","token":"eyJ0eXAi.secret.sig","expiresOn":1}'
        InModuleScope Az.KeyVault.Backup -Parameters @{ Line = $line } { Hide-Token -Line $Line } | Should -BeExactly '{"type":"token","context":"c","token":"***","expiresOn":1}'
    }

    It 'hides a token that holds escaped quotes and backslashes, to its real end' {
        $line = InModuleScope Az.KeyVault.Backup { ConvertTo-ProtocolLine -Message ([ordered]@{ token = 'a"b\c"d'; after = 'kept' }) }
        $hidden = InModuleScope Az.KeyVault.Backup -Parameters @{ Line = $line } { Hide-Token -Line $Line }
        $hidden | Should -BeExactly '{"token":"***","after":"kept"}'
    }

    It 'hides a token written with spaces around the colon' {
        InModuleScope Az.KeyVault.Backup { Hide-Token -Line '{"token" : "abc"}' } | Should -BeExactly '{"token" : "***"}'
    }

    It 'hides every token of a line' {
        InModuleScope Az.KeyVault.Backup { Hide-Token -Line '[{"token":"a"},{"token":"b"}]' } | Should -BeExactly '[{"token":"***"},{"token":"***"}]'
    }

    It 'leaves a line without a token as it is' {
        $line = '{"type":"backup","name":"token","vault":"v"}'
        InModuleScope Az.KeyVault.Backup -Parameters @{ Line = $line } { Hide-Token -Line $Line } | Should -BeExactly $line
    }
}
