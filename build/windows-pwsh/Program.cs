// pwsh.exe for the tests: hands its arguments to PowerShell's own console entry point, the one the
// real pwsh.exe uses, so -NoProfile, -File, exit codes and the console host behave as shipped.
namespace AzKeyVaultBackup.WindowsPwsh
{
    internal static class Program
    {
        private static int Main(string[] args) => Microsoft.PowerShell.UnmanagedPSEntry.Start(args, args.Length);
    }
}
