using System;
using System.Diagnostics;
using System.IO;

namespace MachIpc.Benchmarks.Harness;

/// <summary>This benchmark program started again as a child (in one of its child modes), as an apphost or through dotnet.</summary>
internal static class SelfProcess
{
    /// <summary>A start info for this program with <paramref name="args"/>; stdout is redirected, stdin when asked.</summary>
    public static ProcessStartInfo StartInfo(bool redirectInput, params string[] args)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardInput = redirectInput, RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
        {
            psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "MachIpc.Benchmarks.dll"));
        }
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        return psi;
    }
}
