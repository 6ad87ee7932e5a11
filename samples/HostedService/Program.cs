// A MachIpc server in a .NET Generic Host: AddMachServer checks the service name in when the host starts, serves it
// with the generated dispatcher of Greeter on two receive threads, and releases it when the host stops.
using System;
using MachIpc.Bootstrap;
using MachIpc.Client;
using MachIpc.Samples.HostedService;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

const string Service = "org.machipc.samples.greeter";

var builder = Host.CreateApplicationBuilder(args);
builder.Services.AddMachServer<Greeter>(Service, options => options.ReceiveThreads = 2);
using IHost host = builder.Build();
await host.StartAsync();

// A client, as another process would be: it finds the server by its bootstrap name.
bool ok;
using (var client = new MachRpcClient(BootstrapServer.LookUp(Service)))
{
    var add = new AddRequest { A = 20, B = 22 };
    add.Prepare(0, 0); // the client fills in the server and reply ports
    MachRpcReply<AddReply> sum = client.Call<AddRequest, AddReply>(add);
    Console.WriteLine($"20 + 22 = {sum.Message.Sum} (answered by pid {sum.Sender.Pid})");

    var count = new CountRequest();
    count.Prepare(0, 0);
    MachRpcReply<CountReply> served = await client.CallAsync<CountRequest, CountReply>(count);
    Console.WriteLine($"requests served: {served.Message.Served}; the server saw pid {served.Message.CallerPid}");
    ok = sum.Message.Sum == 42 && served.Message.Served == 2 && served.Message.CallerPid == Environment.ProcessId;
}

// Graceful shutdown: waits for running handlers, joins the receive threads, releases the name.
await host.StopAsync();
bool released = !BootstrapServer.TryLookUp(Service, out var stale, out MachIpc.Abi.BootstrapReturn reason) && reason == MachIpc.Abi.BootstrapReturn.UnknownService;
stale?.Dispose();
Console.WriteLine($"name released after stop: {released}");
Console.WriteLine($"result: {(ok && released ? "OK" : "FAILED")}");
return ok && released ? 0 : 1;
