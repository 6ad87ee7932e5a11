using System;
using MachIpc.Connections;
using MachIpc.Kernel;
using MachIpc.Ports;
using MachIpc.Samples.HelperPool;
using MachIpc.Server;

// The helper pool: a parent serves its helpers the way Ladybird's browser serves its WebContent processes.
// Each helper is this executable started again in helper mode. It checks in through the bootstrap server
// (pattern 1) and trusts the answer only if it comes from its parent; the parent recognises each helper by the
// audit token the kernel attaches, hands it a pre-created channel, answers thousands of requests on it and
// receives an open file as a fileport. Starting processes, timing and the report live in Plumbing.cs.

const int HelperCount = 4;
const int MessagesPerHelper = 5000;
const string Prefix = "org.machipc.samples.helperpool";

if (Helpers.IsHelperProcess(args, out string? serviceName))
{
    // Helper mode. By default only this process's parent may answer the check-in, and no task port is sent.
    return Helpers.Report(() => RunHelper(serviceName, new HelperConnectOptions()));
}

using Helpers? helpers = Helpers.ForParent(args, MessagesPerHelper); // --threads: simulated tasks instead of processes
if (helpers is null)
{
    return 2;
}

// Check in "<prefix>.helper.<our pid>" for the helpers to look up; this fails loudly if another process holds it.
using var rendezvous = new HelperRendezvous(Prefix, new HelperRendezvousOptions { WatchProcessExit = !helpers.AreThreads });
Console.WriteLine($"parent pid {Mach.CurrentPid} serving check-ins at \"{rendezvous.ServiceName}\"");

var registrations = new HelperRegistration[HelperCount];
for (int i = 0; i < HelperCount; i++)
{
    // Spawn returns the pid only once the helper runs: a check-in that beats Expect is held until it comes.
    int pid = helpers.Start(rendezvous.ServiceName, RunHelper);
    registrations[i] = rendezvous.Expect(pid);
}
foreach (HelperRegistration registration in registrations)
{
    using (registration)
    {
        HelperConnection? connection = registration.WaitForConnection(TimeSpan.FromSeconds(10));
        if (connection is null)
        {
            return helpers.Fail($"helper pid {registration.Pid} never checked in" + (registration.HasExited ? " (it exited)" : ""));
        }
        // Serve its channel. The handlers know its audit token (pid and pid version) and count anyone else.
        var handlers = new PoolServer(connection.AuditToken);
        var server = new MachServer(handlers, ReceiveRight.Adopt(connection.Channel.Receive.TakeName()),
            new MachServerOptions { Name = $"pool-{connection.Pid}" });
        server.Start();
        helpers.Served(connection, server, handlers);
    }
}
rendezvous.Dispose(); // every helper has its channel: stop serving check-ins
return helpers.Finish(); // waits for the helpers' reports, prints them, stops the servers, checks for leaks

// The helper: check in, then call the parent over the channel it answered with.
static HelperReport RunHelper(string serviceName, HelperConnectOptions options)
{
    using MachChannel channel = HelperRendezvous.Connect(serviceName, options);
    using var pool = new PoolClient(channel.Send.Copy());
    var latencies = new Latencies(MessagesPerHelper);
    for (int i = 0; i < MessagesPerHelper; i++)
    {
        long started = Latencies.Now;
        pool.Compute(i, i);
        latencies.Record(started);
    }
    string text = $"helper {Mach.CurrentPid} was here";
    pool.PassFile(text); // an open file, as a fileport
    return latencies.Report(text);
}
