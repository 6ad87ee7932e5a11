using System;
using MachIpc.Bootstrap;
using MachIpc.Client;
using MachIpc.Kernel;
using MachIpc.Kernel.Simulated;
using MachIpc.Samples.AotSmoke;
using MachIpc.Server;

// One server and one client task in the simulated kernel, a bootstrap check-in and look-up, and a few RPCs
// through generated stubs and a generated dispatcher: enough to make Native AOT compile every path they take.
const string Service = "org.machipc.samples.aotsmoke";
const int Rounds = 3;

using var serverTask = SimulatedMach.CreateTask("server");
using var clientTask = SimulatedMach.CreateTask("client");

var handlers = new PingServer();
MachServer server;
using (serverTask.Enter())
{
    server = MachServer.CheckIn(Service, handlers);
    server.Start();
}

int sum = 0;
using (clientTask.Enter())
{
    using var client = new MachRpcClient(BootstrapServer.LookUp(Service));
    for (int i = 1; i <= Rounds; i++)
    {
        var request = new Ping { Value = 20 + i };
        request.Prepare(0, 0);
        var result = client.Call<Ping, Pong>(request, out var reply, out _);
        if (!result.IsSuccess || reply.Value != 2 * (20 + i))
        {
            Console.Error.WriteLine($"aotsmoke: round {i} failed: {result} (reply {reply.Value})");
            return 1;
        }
        sum += reply.Value;
    }
}

using (serverTask.Enter())
{
    server.Dispose();
}

Console.WriteLine($"aotsmoke: ok backend={Mach.Backend} rounds={handlers.Pings} sum={sum}");
return handlers.Pings == Rounds ? 0 : 1;
