using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Reflection.Metadata;
using System.Xml.Linq;
using Xunit;

namespace MachIpc.Package.Tests;

/// <summary>
/// The package as a user meets it: packed from the current sources, restored by version from a feed, its generator
/// run on the user's own messages, and the program run through the simulated kernel.
/// </summary>
public sealed class PackageTests : IClassFixture<PackageFixture>
{
    // The protocol: two messages. In the transitive test they live in a library the app references.
    private const string Messages = """
        using MachIpc.Abi;
        using MachIpc.Messages;

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
        """;

    private const string Server = """
        using MachIpc.Abi;
        using MachIpc.Messages;
        using MachIpc.Server;

        namespace Consumer;

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
            client.TryCall<Ping, Pong>(request, out reply, out _, out result);
        }
        using (serverTask.Enter())
        {
            server.Dispose();
        }

        Console.WriteLine($"consumer: backend={Mach.Backend} success={result.IsSuccess} reply={reply.Value} pings={handlers.Pings}");
        return result.IsSuccess && reply.Value == 42 && handlers.Pings == 1 ? 0 : 1;
        """;

    /// <summary>One program for every backend: a server and its client in this process's one task.</summary>
    private const string OneTaskProgram = """
        using System;
        using Consumer;
        using MachIpc.Bootstrap;
        using MachIpc.Client;
        using MachIpc.Kernel;
        using MachIpc.Server;

        string service = "org.machipc.package-consumer." + Guid.NewGuid().ToString("N");
        var handlers = new PingServer();
        MachRpcResult result;
        Pong reply;
        using (var server = MachServer.CheckIn(service, handlers))
        {
            server.Start();
            using var client = new MachRpcClient(BootstrapServer.LookUp(service));
            var request = new Ping { Value = 21 };
            request.Prepare(0, 0);
            client.TryCall<Ping, Pong>(request, out reply, out _, out result);
        }
        Console.WriteLine($"consumer: backend={Mach.Backend} success={result.IsSuccess} reply={reply.Value} pings={handlers.Pings}");
        return result.IsSuccess && reply.Value == 42 && handlers.Pings == 1 ? 0 : 1;
        """;

    /// <summary>The runtime identifier the package's native libSystem was built for (this machine's).</summary>
    private static string NativeRid => System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier;

    private readonly PackageFixture _package;

    public PackageTests(PackageFixture package)
    {
        _package = package;
    }

    private string ConsumerProject(bool allowUnsafeBlocks, string outputType = "Exe", string targetFramework = "net10.0", string reference = "", string items = "") => $"""
        <Project Sdk="Microsoft.NET.Sdk">
          <PropertyGroup>
            <OutputType>{outputType}</OutputType>
            <TargetFramework>{targetFramework}</TargetFramework>
            <Nullable>enable</Nullable>
            <ImplicitUsings>disable</ImplicitUsings>
            <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
            {(allowUnsafeBlocks ? "<AllowUnsafeBlocks>true</AllowUnsafeBlocks>" : "")}
            <RestorePackagesPath>{_package.PackagesFolder}</RestorePackagesPath>
          </PropertyGroup>
          <ItemGroup>
            {(reference.Length > 0 ? reference : $"<PackageReference Include=\"MachIpc\" Version=\"{_package.Version}\" />")}
            {items}
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
                     "analyzers/dotnet/cs/MachIpc.Generator.CodeFixes.dll",
                     "buildTransitive/net10.0/MachIpc.props",
                     "buildTransitive/net10.0/MachIpc.targets",
                     "buildTransitive/net10.0/MachInterface.targets",
                     "README.md",
                     "icon.png",
                     "MachIpc.nuspec",
                 }.Concat(OperatingSystem.IsLinux() ? [$"runtimes/{NativeRid}/native/libmachipc_system.so"] : []))
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
        Assert.Equal("icon.png", metadata.Element(ns + "icon")?.Value);
        // The build files are TFM-specific (so NuGet refuses other frameworks) and transitive (so apps get them).
        Assert.DoesNotContain(entries, e => e.StartsWith("build/", StringComparison.Ordinal));
        Assert.Equal("git", metadata.Element(ns + "repository")?.Attribute("type")?.Value);
        Assert.False(string.IsNullOrEmpty(metadata.Element(ns + "repository")?.Attribute("url")?.Value), nuspec.ToString());

        var dependencies = metadata.Descendants(ns + "dependency").Select(d => d.Attribute("id")!.Value).ToList();
        Assert.DoesNotContain(dependencies, id => id.Contains("Generator", StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain(dependencies, id => id.StartsWith("Microsoft.CodeAnalysis", StringComparison.Ordinal));
        Assert.DoesNotContain(dependencies, id => id.StartsWith("Microsoft.SourceLink", StringComparison.Ordinal));
        Assert.Contains("Microsoft.Extensions.Logging.Abstractions", dependencies);
    }

    [Fact]
    public void Nupkg_ReadmeIsThePackagesOwn_WithTheMacCaveatUpFront()
    {
        _package.AssertPacked();
        using var zip = ZipFile.OpenRead(_package.PackagePath);
        string readme;
        using (var reader = new StreamReader(zip.GetEntry("README.md")!.Open()))
        {
            readme = reader.ReadToEnd();
        }
        Assert.Equal(File.ReadAllText(Path.Combine(_package.RepoRoot, "src", "MachIpc", "PACKAGE.md")), readme);
        Assert.NotEqual(File.ReadAllText(Path.Combine(_package.RepoRoot, "README.md")), readme);
        // The caveat comes before anything else a reader sees on the package page.
        int caveat = readme.IndexOf("Not yet run on a Mac", StringComparison.Ordinal);
        Assert.InRange(caveat, 0, readme.IndexOf("## ", StringComparison.Ordinal));
        foreach (string section in new[] { "## Install", "## Quick start", "## Links" })
        {
            Assert.Contains(section, readme, StringComparison.Ordinal);
        }
        // The icon is a real PNG.
        using var icon = zip.GetEntry("icon.png")!.Open();
        var signature = new byte[8];
        icon.ReadExactly(signature);
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, signature);
    }

    [Fact]
    public void Symbols_MapSourcesToTheRepositoryOnGitHub_WithoutAnyExtraProperty()
    {
        // Packed by the fixture with nothing but -c Release, in a clone that may have no GitHub remote at all.
        _package.AssertPacked();
        using var zip = ZipFile.OpenRead(Path.ChangeExtension(_package.PackagePath, ".snupkg"));
        using var pdb = new MemoryStream();
        using (var stream = zip.GetEntry("lib/net10.0/MachIpc.pdb")!.Open())
        {
            stream.CopyTo(pdb);
        }
        pdb.Position = 0;
        using var provider = MetadataReaderProvider.FromPortablePdbStream(pdb);
        MetadataReader reader = provider.GetMetadataReader();
        var sourceLinkKind = new Guid("CC110556-A091-4D38-9FEC-25AB9A351A6A");
        string? json = reader.CustomDebugInformation
            .Select(reader.GetCustomDebugInformation)
            .Where(i => reader.GetGuid(i.Kind) == sourceLinkKind)
            .Select(i => System.Text.Encoding.UTF8.GetString(reader.GetBlobBytes(i.Value)))
            .SingleOrDefault();
        Assert.False(json is null, "MachIpc.pdb has no Source Link record.\n" + _package.Pack.Describe());
        string repository = XDocument.Load(Path.Combine(_package.RepoRoot, "Directory.Build.props")).Descendants("RepositoryUrl").Single().Value;
        string raw = repository.Replace("https://github.com/", "https://raw.githubusercontent.com/", StringComparison.Ordinal) + "/";
        Assert.Matches("\"" + System.Text.RegularExpressions.Regex.Escape(raw) + "[0-9a-f]{40}/\\*\"", json);
    }

    [Fact]
    public void Consumer_DeclaresItsOwnMessagesAndServer_BuildsWarningFree_AndRoundTripsThroughTheSimulatedKernel()
    {
        _package.AssertPacked();
        var dir = _package.CreateConsumer("Consumer", ConsumerProject(allowUnsafeBlocks: true),
            ("Messages.cs", Messages), ("Server.cs", Server), ("Program.cs", Program));

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

    private const string EchoDefs = """
        subsystem echo 9100;
        #include <mach/std_types.defs>
        #if EXTRA
        routine echo_add(server : mach_port_t; a : int32_t; b : int32_t; out sum : int32_t);
        #endif
        """;

    private const string EchoProgram = """
        using MachIpc.Mig;
        using MachIpc.Ports;
        using MachIpc.Server;
        using Consumer.Interfaces;

        using var server = new MachServer(new EchoDispatcher(new Adder()), ReceiveRight.Allocate());
        server.Start();
        using SendRight right = server.MakeSend();
        int kr = EchoClient.EchoAdd(right.Name, 40, 2, out int sum);
        MigReplyPort.Destroy();
        System.Console.WriteLine($"mig: kr={kr} sum={sum}");

        sealed class Adder : IEchoHandler
        {
            public int EchoAdd(uint server, int a, int b, out int sum)
            {
                sum = a + b;
                return 0;
            }
        }
        """;

    [Fact]
    public void Consumer_MachInterfaceItem_GeneratesAClientAndServer_FromTheDefsFileAndItsMetadata()
    {
        _package.AssertPacked();
        var dir = _package.CreateConsumer("ConsumerMig",
            ConsumerProject(allowUnsafeBlocks: true, items: "<MachInterface Include=\"echo.defs\" Defines=\"EXTRA\" Namespace=\"Consumer.Interfaces\" />"),
            ("echo.defs", EchoDefs), ("Program.cs", EchoProgram));

        var build = DotnetCli.Run(dir, ["build", "-c", "Release", "--disable-build-servers", "-nologo"]);
        Assert.True(build.ExitCode == 0, build.Describe());
        Assert.DoesNotContain(": warning ", build.Output, StringComparison.Ordinal);
        var run = DotnetCli.Run(dir, ["run", "-c", "Release", "--no-build"]);
        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.Contains("mig: kr=0 sum=42", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Consumer_WithoutAllowUnsafeBlocks_GetsTheClearMsBuildError()
    {
        _package.AssertPacked();
        var dir = _package.CreateConsumer("ConsumerNoUnsafe", ConsumerProject(allowUnsafeBlocks: false),
            ("Messages.cs", Messages), ("Server.cs", Server), ("Program.cs", "System.Console.WriteLine(\"unreachable\");\n"));

        var build = DotnetCli.Run(dir, ["build", "-c", "Release", "--disable-build-servers", "-nologo"]);
        Assert.True(build.ExitCode != 0, "the build should have failed.\n" + build.Describe());
        Assert.Contains("error MACHIPC100", build.Output, StringComparison.Ordinal);
        Assert.Contains("<AllowUnsafeBlocks>true</AllowUnsafeBlocks>", build.Output, StringComparison.Ordinal);
        // The check stops the build before the compiler would report an error per message.
        Assert.DoesNotContain("MACHIPC009", build.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void App_ReferencingALibraryThatDeclaresMessages_ServesThem_AndAClientAppNeedsNoUnsafeCode()
    {
        // The library references the package; the apps only the library. The generator reaches the server app (it
        // serves the library's messages), and the package's buildTransitive targets reach both apps without stopping
        // the client app, which declares nothing and so needs no AllowUnsafeBlocks (MACHIPC100 is for direct users).
        _package.AssertPacked();
        const string library = "<ProjectReference Include=\"../Protocol/Protocol.csproj\" />";
        _package.CreateConsumer("Protocol", ConsumerProject(allowUnsafeBlocks: true, outputType: "Library"), ("Messages.cs", Messages));
        var app = _package.CreateConsumer("App", ConsumerProject(allowUnsafeBlocks: true, reference: library),
            ("Server.cs", Server), ("Program.cs", Program));
        var client = _package.CreateConsumer("ClientApp", ConsumerProject(allowUnsafeBlocks: false, reference: library),
            ("Program.cs", "var ping = new Consumer.Ping { Value = 1 };\nping.Prepare(0, 0);\nSystem.Console.WriteLine(ping.Header.Id);\n"));
        Assert.DoesNotContain("MachIpc", File.ReadAllText(Path.Combine(app, "App.csproj")), StringComparison.Ordinal);

        var build = DotnetCli.Run(app, ["build", "-c", "Release", "--disable-build-servers", "-nologo"]);
        Assert.True(build.ExitCode == 0, build.Describe());
        Assert.DoesNotContain(": warning ", build.Output, StringComparison.Ordinal);
        var run = DotnetCli.Run(app, ["run", "-c", "Release", "--no-build"]);
        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.Contains("consumer: backend=Simulated success=True reply=42 pings=1", run.Output, StringComparison.Ordinal);

        var clientBuild = DotnetCli.Run(client, ["build", "-c", "Release", "--disable-build-servers", "-nologo"]);
        Assert.True(clientBuild.ExitCode == 0, clientBuild.Describe());
        Assert.DoesNotContain(": warning ", clientBuild.Output, StringComparison.Ordinal);
        var clientRun = DotnetCli.Run(client, ["run", "-c", "Release", "--no-build"]);
        Assert.True(clientRun.ExitCode == 0 && clientRun.Output.Trim() == "7000", clientRun.Describe());
        // The package's build files were imported, although the client app does not reference the package itself.
        var imported = DotnetCli.Run(client, ["msbuild", "-nologo", "-getProperty:UsingMachIpcPackage"]);
        Assert.True(imported.Output.Trim() == "true", imported.Describe());
        // And with them the simulated kernel's feature switch, off when the app is built for a Mac.
        var osx = DotnetCli.Run(client, ["msbuild", "-nologo", "-getProperty:MachIpcSimulatedKernelSupport", "-p:RuntimeIdentifier=osx-arm64"]);
        Assert.True(osx.Output.Trim() == "false", osx.Describe());
    }

    [Fact]
    public void Consumer_OnAnUnsupportedTargetFramework_FailsAtRestoreWithOneClearError()
    {
        _package.AssertPacked();
        var dir = _package.CreateConsumer("ConsumerNet8", ConsumerProject(allowUnsafeBlocks: true, targetFramework: "net8.0"),
            ("Messages.cs", Messages), ("Program.cs", "System.Console.WriteLine(\"unreachable\");\n"));

        var build = DotnetCli.Run(dir, ["build", "-c", "Release", "--disable-build-servers", "-nologo"]);
        Assert.True(build.ExitCode != 0, "the build should have failed.\n" + build.Describe());
        string[] errors = build.Output.Split('\n').Where(l => l.Contains(": error ", StringComparison.Ordinal))
            .Select(l => l.Trim()).Distinct(StringComparer.Ordinal).ToArray();
        string error = Assert.Single(errors);
        Assert.Contains("NU1202", error, StringComparison.Ordinal);
        Assert.Contains($"MachIpc {_package.Version} is not compatible with net8.0", error, StringComparison.Ordinal);
        Assert.Contains("net10.0", error, StringComparison.Ordinal);
        Assert.DoesNotContain("CS0246", build.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Consumer_WithMachIpcKernelDarwin_RunsItsOwnGeneratedStubs_OffMacOSOverThePackagesNativeLibSystem()
    {
        _package.AssertPacked();
        var dir = _package.CreateConsumer("ConsumerDarwin", ConsumerProject(allowUnsafeBlocks: true),
            ("Messages.cs", Messages), ("Server.cs", Server), ("Program.cs", OneTaskProgram));
        var build = DotnetCli.Run(dir, ["build", "-c", "Release", "--disable-build-servers", "-nologo"]);
        Assert.True(build.ExitCode == 0, build.Describe());

        // The consumer's own stubs DllImport "/usr/lib/libSystem.B.dylib"; the library comes from the package's
        // runtimes/<rid>/native through the consumer's deps.json, and the process hosts its kernel itself.
        var run = DotnetCli.Run(dir, ["run", "-c", "Release", "--no-build"], environment: new Dictionary<string, string> { ["MACHIPC_KERNEL"] = "darwin" });
        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.Contains("consumer: backend=Darwin success=True reply=42 pings=1", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void TrimmedOsxPublish_CarriesNoSimulatorType_UnlessTheAppAsksForIt()
    {
        _package.AssertPacked();

        string[] Publish(string name, params string[] extra)
        {
            // A consumer of its own per publish: ILLink's incremental check does not see a changed feature switch.
            var dir = _package.CreateConsumer(name, ConsumerProject(allowUnsafeBlocks: true),
                ("Messages.cs", Messages), ("Server.cs", Server), ("Program.cs", OneTaskProgram));
            string output = Path.Combine(dir, "out");
            var publish = DotnetCli.Run(dir, ["publish", "-c", "Release", "-r", "osx-arm64", "-p:PublishTrimmed=true", "-o", output,
                "--disable-build-servers", "-nologo", .. extra]);
            Assert.True(publish.ExitCode == 0, publish.Describe());
            Assert.DoesNotContain(": warning ", publish.Output, StringComparison.Ordinal);
            return TypeNames(Path.Combine(output, "MachIpc.dll"));
        }

        static bool IsSimulator(string type) =>
            type.StartsWith("MachIpc.Kernel.Simulated.", StringComparison.Ordinal) ||
            type.StartsWith("MachIpc.Kernel.Remote.", StringComparison.Ordinal) ||
            type.EndsWith(".LibSystemOnLinux", StringComparison.Ordinal);

        string[] trimmed = Publish("ConsumerOsx");
        Assert.Contains("MachIpc.Kernel.Darwin.DarwinKernel", trimmed);
        Assert.DoesNotContain(trimmed, IsSimulator);

        // The same app asking for the simulator keeps it: the switch, not the trimmer's whim, is what removed it.
        string[] kept = Publish("ConsumerOsxSimulator", "-p:MachIpcSimulatedKernelSupport=true");
        Assert.Contains("MachIpc.Kernel.Simulated.SimulatedKernel", kept);
        Assert.Contains("MachIpc.Kernel.Remote.KernelHost", kept);
    }

    /// <summary>Every type defined in an assembly, as Namespace.Name (nested types by their own name).</summary>
    private static string[] TypeNames(string assembly)
    {
        using var stream = File.OpenRead(assembly);
        using var pe = new System.Reflection.PortableExecutable.PEReader(stream);
        MetadataReader md = pe.GetMetadataReader();
        return md.TypeDefinitions.Select(h => md.GetTypeDefinition(h))
            .Select(t => md.GetString(t.Namespace) + "." + md.GetString(t.Name))
            .ToArray();
    }
}
