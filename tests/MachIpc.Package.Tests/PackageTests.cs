using System;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Xml.Linq;
using Xunit;

namespace MachIpc.Package.Tests;

/// <summary>
/// The package as a user meets it: packed from the current sources, restored by version from a feed, its generator
/// run on the user's own messages, and the program run through the simulated kernel.
/// </summary>
public sealed class PackageTests : IClassFixture<PackageFixture>
{
    private const string Messages = """
        using MachIpc.Abi;
        using MachIpc.Messages;
        using MachIpc.Server;

        namespace Consumer;

        [MachMessage(7000, Local = MachMsgType.MakeSendOnce)]
        public partial struct Ping
        {
            public MachMsgHeader Header;
            public int Value;
        }

        [MachMessage(7100, Remote = MachMsgType.MoveSendOnce)]
        public partial struct Pong
        {
            public MachMsgHeader Header;
            public int Value;
        }

        [MachServer]
        public partial class PingServer
        {
            public int Pings { get; private set; }

            void OnPing(MachReceived<Ping> m)
            {
                var reply = new Pong { Value = m.Message.Value * 2 };
                reply.Prepare(0);
                var mr = m.Reply(ref reply);
                if (mr != MachMsgReturn.Success)
                {
                    throw new MachException("reply", mr);
                }
                Pings++;
            }
        }
        """;

    private const string Program = """
        using System;
        using Consumer;
        using MachIpc.Bootstrap;
        using MachIpc.Client;
        using MachIpc.Kernel;
        using MachIpc.Kernel.Simulated;
        using MachIpc.Server;

        string service = "org.machipc.package-consumer." + Guid.NewGuid().ToString("N");
        using var serverTask = SimulatedMach.CreateTask("server");
        using var clientTask = SimulatedMach.CreateTask("client");

        var handlers = new PingServer();
        MachServer server;
        using (serverTask.Enter())
        {
            server = MachServer.CheckIn(service, handlers);
            server.Start();
        }

        MachRpcResult result;
        Pong reply;
        using (clientTask.Enter())
        {
            using var client = new MachRpcClient(BootstrapServer.LookUp(service));
            var request = new Ping { Value = 21 };
            request.Prepare(0, 0);
            result = client.Call<Ping, Pong>(request, out reply, out _);
        }
        using (serverTask.Enter())
        {
            server.Dispose();
        }

        Console.WriteLine($"consumer: backend={Mach.Backend} success={result.IsSuccess} reply={reply.Value} pings={handlers.Pings}");
        return result.IsSuccess && reply.Value == 42 && handlers.Pings == 1 ? 0 : 1;
        """;

    private readonly PackageFixture _package;

    public PackageTests(PackageFixture package)
    {
        _package = package;
    }

    private string ConsumerProject(bool allowUnsafeBlocks) => $"""
        <Project Sdk="Microsoft.NET.Sdk">
          <PropertyGroup>
            <OutputType>Exe</OutputType>
            <TargetFramework>net10.0</TargetFramework>
            <Nullable>enable</Nullable>
            <ImplicitUsings>disable</ImplicitUsings>
            <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
            {(allowUnsafeBlocks ? "<AllowUnsafeBlocks>true</AllowUnsafeBlocks>" : "")}
            <RestorePackagesPath>{_package.PackagesFolder}</RestorePackagesPath>
          </PropertyGroup>
          <ItemGroup>
            <PackageReference Include="MachIpc" Version="{_package.Version}" />
          </ItemGroup>
        </Project>
        """;

    [Fact]
    public void Nupkg_HoldsRuntimeDocsGeneratorBuildFilesAndReadme()
    {
        _package.AssertPacked();
        using var zip = ZipFile.OpenRead(_package.PackagePath);
        var entries = zip.Entries.Select(e => e.FullName).ToHashSet(StringComparer.Ordinal);
        var listing = string.Join("\n", entries.OrderBy(e => e, StringComparer.Ordinal));

        foreach (var expected in new[]
                 {
                     "lib/net10.0/MachIpc.dll",
                     "lib/net10.0/MachIpc.xml",
                     "analyzers/dotnet/cs/MachIpc.Generator.dll",
                     "build/MachIpc.props",
                     "build/MachIpc.targets",
                     "README.md",
                     "MachIpc.nuspec",
                 })
        {
            Assert.True(entries.Contains(expected), $"{expected} missing from the package:\n{listing}");
        }
        // The generator is a compiler plug-in only: never a runtime assembly of the consumer.
        Assert.False(entries.Any(e => e.StartsWith("lib/", StringComparison.Ordinal) && e.Contains("Generator", StringComparison.Ordinal)),
            "the generator must not be under lib/:\n" + listing);
        Assert.False(entries.Any(e => e.StartsWith("analyzers/", StringComparison.Ordinal) && e.EndsWith("/MachIpc.dll", StringComparison.Ordinal)),
            "the runtime must not be an analyzer:\n" + listing);

        var nuspecEntry = zip.GetEntry("MachIpc.nuspec")!;
        XDocument nuspec;
        using (var stream = nuspecEntry.Open())
        {
            nuspec = XDocument.Load(stream);
        }
        XNamespace ns = nuspec.Root!.Name.Namespace;
        var metadata = nuspec.Root.Element(ns + "metadata")!;
        Assert.Equal("MachIpc", metadata.Element(ns + "id")?.Value);
        Assert.Equal(_package.Version, metadata.Element(ns + "version")?.Value);
        Assert.Equal("MIT", metadata.Element(ns + "license")?.Value);
        Assert.Equal("README.md", metadata.Element(ns + "readme")?.Value);
        Assert.Equal("git", metadata.Element(ns + "repository")?.Attribute("type")?.Value);
        Assert.False(string.IsNullOrEmpty(metadata.Element(ns + "repository")?.Attribute("url")?.Value), nuspec.ToString());

        var dependencies = metadata.Descendants(ns + "dependency").Select(d => d.Attribute("id")!.Value).ToList();
        Assert.DoesNotContain(dependencies, id => id.Contains("Generator", StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain(dependencies, id => id.StartsWith("Microsoft.CodeAnalysis", StringComparison.Ordinal));
        Assert.DoesNotContain(dependencies, id => id.StartsWith("Microsoft.SourceLink", StringComparison.Ordinal));
        Assert.Contains("Microsoft.Extensions.Logging.Abstractions", dependencies);
    }

    [Fact]
    public void Consumer_DeclaresItsOwnMessagesAndServer_BuildsWarningFree_AndRoundTripsThroughTheSimulatedKernel()
    {
        _package.AssertPacked();
        var dir = _package.CreateConsumer("Consumer", ConsumerProject(allowUnsafeBlocks: true),
            ("Messages.cs", Messages), ("Program.cs", Program));

        var build = DotnetCli.Run(dir, ["build", "-c", "Release", "--disable-build-servers", "-nologo"]);
        Assert.True(build.ExitCode == 0, build.Describe());
        Assert.DoesNotContain(": warning ", build.Output, StringComparison.Ordinal);

        // It came from the package, by version, into this run's own packages folder: not a project reference.
        var restored = Path.Combine(_package.PackagesFolder, "machipc", _package.Version.ToLowerInvariant());
        Assert.True(Directory.Exists(restored), $"{restored} not restored.\n{build.Describe()}");
        var bin = Path.Combine(dir, "bin", "Release", "net10.0");
        Assert.True(File.Exists(Path.Combine(bin, "MachIpc.dll")), "MachIpc.dll not copied to the consumer's output");
        Assert.False(File.Exists(Path.Combine(bin, "MachIpc.Generator.dll")), "the generator leaked into the consumer's output");

        var run = DotnetCli.Run(dir, ["run", "-c", "Release", "--no-build"]);
        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.Contains("consumer: backend=Simulated success=True reply=42 pings=1", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Consumer_WithoutAllowUnsafeBlocks_GetsTheClearMsBuildError()
    {
        _package.AssertPacked();
        var dir = _package.CreateConsumer("ConsumerNoUnsafe", ConsumerProject(allowUnsafeBlocks: false),
            ("Messages.cs", Messages), ("Program.cs", "System.Console.WriteLine(\"unreachable\");\n"));

        var build = DotnetCli.Run(dir, ["build", "-c", "Release", "--disable-build-servers", "-nologo"]);
        Assert.True(build.ExitCode != 0, "the build should have failed.\n" + build.Describe());
        Assert.Contains("error MACHIPC100", build.Output, StringComparison.Ordinal);
        Assert.Contains("<AllowUnsafeBlocks>true</AllowUnsafeBlocks>", build.Output, StringComparison.Ordinal);
        // The check stops the build before the compiler would report an error per message.
        Assert.DoesNotContain("MACHIPC009", build.Output, StringComparison.Ordinal);
    }
}
