using System;
using System.Diagnostics;
using System.IO;
using System.Threading;
using MachIpc.Abi;
using MachIpc.Bootstrap;
using MachIpc.Client;
using MachIpc.Kernel;
using MachIpc.Server;
using MachIpc.Samples.LaunchdAgent;

// A launchd agent: launchd owns the service name (org.machipc.samples.launchd.plist, MachServices), starts this
// program with --serve when the first message arrives, and the program takes the name's receive right with
// bootstrap_check_in, serves, and exits once idle; launchd starts it again on the next message.
//   --serve [idle seconds]   what launchd runs
//   --call                   a client: look the name up and call it
//   (nothing)                the demo CI runs everywhere: this process plays launchd's part and starts --serve itself
const string ServiceName = "org.machipc.samples.launchd";

switch (args)
{
    case ["--serve", ..]:
        var idle = TimeSpan.FromSeconds(args.Length > 1 ? double.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 10);
        var uptime = new UptimeServer();
        using (MachServer server = MachServer.CheckIn(ServiceName, uptime))
        {
            server.Start();
            uptime.WaitUntilIdle(idle);
        }                                    // stops and joins the server; queued requests stay with launchd's right
        return 0;

    case ["--call"]:
        return Call(BootstrapServer.LookUp(ServiceName)) ? 0 : 1;

    case []:
        // Demo: without launchd, start the agent as a child; the name exists once it has checked in.
        var psi = new ProcessStartInfo(Environment.ProcessPath!);
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
            psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "LaunchdAgent.dll"));
        psi.ArgumentList.Add("--serve");
        psi.ArgumentList.Add("1");
        Mach.ConfigureChild(psi);
        using (Process agent = Process.Start(psi)!)
        {
            bool ok = Call(WaitForName(ServiceName)) && agent.WaitForExit(TimeSpan.FromSeconds(30)) && agent.ExitCode == 0;
            Console.WriteLine($"agent pid {agent.Id} exited when idle; result: {(ok ? "OK" : "FAILED")}");
            return ok ? 0 : 1;
        }

    default:
        Console.Error.WriteLine("usage: LaunchdAgent [--serve [idle seconds] | --call]");
        return 2;
}

static bool Call(MachIpc.Ports.SendRight agent)
{
    using var client = new MachRpcClient(agent);
    var request = new UptimeRequest();
    request.Prepare(0, 0);
    client.TryCall<UptimeRequest, UptimeReply>(request, out UptimeReply reply, out _, out var result);
    Console.WriteLine($"call: {result}; agent pid {reply.AgentPid}, up {reply.UptimeMs} ms, {reply.Served} requests served");
    return result.IsSuccess;
}

static MachIpc.Ports.SendRight WaitForName(string name)
{
    for (int i = 0; ; i++)
    {
        if (BootstrapServer.TryLookUp(name, out MachIpc.Ports.SendRight? right, out _)) return right;
        if (i == 500) throw new TimeoutException($"{name} was never checked in");
        Thread.Sleep(10); // under launchd the name exists before the agent runs, and this loop is not needed
    }
}
