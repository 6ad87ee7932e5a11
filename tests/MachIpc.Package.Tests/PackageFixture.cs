using System;
using System.Globalization;
using System.IO;

namespace MachIpc.Package.Tests;

/// <summary>
/// Packs the current sources once, into a private folder feed, with a version no other run uses. The build goes to
/// its own artifacts folder, so it neither reads nor disturbs the solution build that runs these tests.
/// </summary>
public sealed class PackageFixture : IDisposable
{
    public PackageFixture()
    {
        RepoRoot = FindRepoRoot();
        Version = "0.1.0-test." + DateTime.UtcNow.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture) + "." +
                  Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        // Outside the repository, so that no Directory.Build.props, Directory.Packages.props or global.json of
        // ours is found above the consumer projects.
        Root = Path.Combine(Path.GetTempPath(), "machipc-package-tests-" + Guid.NewGuid().ToString("N"));
        Feed = Path.Combine(Root, "feed");
        PackagesFolder = Path.Combine(Root, "packages");
        Directory.CreateDirectory(Feed);

        Pack = DotnetCli.Run(RepoRoot,
        [
            "pack", Path.Combine(RepoRoot, "src", "MachIpc", "MachIpc.csproj"),
            "-c", "Release",
            "-o", Feed,
            "-p:Version=" + Version,
            "-p:UseArtifactsOutput=true",
            "-p:ArtifactsPath=" + Path.Combine(Root, "artifacts"),
            "--disable-build-servers",
            "-nologo",
        ]);
        PackagePath = Path.Combine(Feed, $"MachIpc.{Version}.nupkg");
    }

    public string RepoRoot { get; }

    public string Version { get; }

    public string Root { get; }

    public string Feed { get; }

    /// <summary>One NuGet packages folder for the consumers of this run, never the machine's global one.</summary>
    public string PackagesFolder { get; }

    public CliResult Pack { get; }

    public string PackagePath { get; }

    /// <summary>Fails with the pack's whole output unless it produced the package.</summary>
    public void AssertPacked()
    {
        if (Pack.ExitCode != 0 || !File.Exists(PackagePath))
        {
            throw new Xunit.Sdk.XunitException("dotnet pack did not produce " + PackagePath + "\n" + Pack.Describe());
        }
    }

    /// <summary>A fresh consumer project directory under <see cref="Root"/>, shielded from anything above it.</summary>
    public string CreateConsumer(string name, string projectXml, params (string File, string Text)[] sources)
    {
        var dir = Path.Combine(Root, name);
        Directory.CreateDirectory(dir);
        // Stop MSBuild's upward search for repository-wide files here, whatever lies above the temp folder.
        File.WriteAllText(Path.Combine(dir, "Directory.Build.props"), "<Project />\n");
        File.WriteAllText(Path.Combine(dir, "Directory.Build.targets"), "<Project />\n");
        File.WriteAllText(Path.Combine(dir, "Directory.Packages.props"), "<Project />\n");
        // The private feed first, then the ordinary public source for everything else; MachIpc only from ours.
        File.WriteAllText(Path.Combine(dir, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="machipc-local" value="{Feed}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
              </packageSources>
              <packageSourceMapping>
                <packageSource key="machipc-local">
                  <package pattern="MachIpc" />
                </packageSource>
                <packageSource key="nuget.org">
                  <package pattern="*" />
                </packageSource>
              </packageSourceMapping>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(dir, name + ".csproj"), projectXml);
        foreach (var (file, text) in sources)
        {
            File.WriteAllText(Path.Combine(dir, file), text);
        }
        return dir;
    }

    public void Dispose()
    {
        if (Environment.GetEnvironmentVariable("MACHIPC_KEEP_PACKAGE_TESTS") == "1")
        {
            return;
        }
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp folder left behind is harmless.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "MachIpc.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("MachIpc.sln not found above " + AppContext.BaseDirectory);
    }
}
