using System;
using System.Diagnostics;
using System.IO;
using MachIpc.Bootstrap;
using MachIpc.Client;
using MachIpc.Kernel;
using MachIpc.Messages;
using MachIpc.Server;

// The smallest complete service: this process serves "Echo" under a bootstrap name, and a second process (this
// executable again, with --client) looks the name up and calls it. The server learns each caller's pid from the
// kernel's audit token, never from the message.
if (args is ["--client", string service])
{
    using var client = new MachRpcClient(BootstrapServer.LookUp(service));
    var request = new Echo { Value = 21 };
    request.Prepare(0, 0);                                   // the client fills in the server and reply ports
    client.TryCall<Echo, EchoReply>(request, out EchoReply reply, out _, out var result);
    Console.WriteLine($"client: {result}, {request.Value} -> {reply.Value}");
    return result.IsSuccess && reply.Value == 42 ? 0 : 1;
}

string name = $"org.machipc.samples.echo.{Mach.CurrentPid}";
using (MachServer server = MachServer.CheckIn(name, new EchoServer()))
{
    server.Start();
    var child = new ProcessStartInfo(Environment.ProcessPath!) { ArgumentList = { "--client", name } };
    if (Environment.ProcessPath!.EndsWith("dotnet", StringComparison.Ordinal)) child.ArgumentList.Insert(0, Path.Combine(AppContext.BaseDirectory, "EchoService.dll"));
    Mach.ConfigureChild(child);                              // macOS: inherits the bootstrap port; Linux: joins this kernel
    using Process process = Process.Start(child)!;
    process.WaitForExit();
    Console.WriteLine($"result: {(process.ExitCode == 0 ? "OK" : "FAILED")}");
    return process.ExitCode;
}                                                            // Dispose stops the server and joins its thread
