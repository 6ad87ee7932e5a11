using System;
using MachIpc.Kernel;
using MachIpc.Kernel.Simulated;
using MachIpc.Ports;
using MachIpc.Samples.MachExceptionServer;
using MachIpc.Server;

// A Mach exception server in C#, generated from mach_exc.defs: the handler (ExceptionCatcher) implements the
// generated IMachExcHandler, the generated MachExcDispatcher checks each request as MIG's server stubs do and builds
// the reply, and MachServer runs the receive loop. Debuggers and crash reporters are built on this interface.

Console.WriteLine($"MachIpc exception server: kernel backend {Mach.Backend}");
bool simulated = Mach.Backend == MachKernelBackend.Simulated;
KernelSnapshot? before = simulated ? SimulatedMach.Snapshot() : null;

var catcher = new ExceptionCatcher();
using (var server = new MachServer(new MachExcDispatcher(catcher), ReceiveRight.Allocate(), new MachServerOptions { Name = "exceptions" }))
using (SendRight exceptionPort = server.MakeSend())
{
    server.Start();
    // On macOS, task_set_exception_ports(child, EXC_MASK_BAD_ACCESS, exceptionPort,
    //     EXCEPTION_STATE_IDENTITY | MACH_EXCEPTION_CODES, ARM_THREAD_STATE64) would now route a child's faults here.
    // The kernel then sends exactly what the raises below send (see FaultingTask and the README).
    Console.WriteLine(simulated
        ? "A simulated task raises exceptions to the server, as XNU's exception_deliver would for a faulting thread:"
        : "This process raises exceptions to its own server through mach_msg (no simulated task to raise them from):");
    FaultingTask.Raise(exceptionPort, simulated);
    server.Stop();
}

bool ok = catcher.Handled == 2 && catcher.Declined == 1 && FaultingTask.AllAsExpected;
if (before is not null)
{
    string? leaks = SimulatedMach.Snapshot().DescribeLeaksSince(before);
    Console.WriteLine(leaks is null ? "kernel accounting: every port right was released" : "LEAKS: " + leaks);
    ok &= leaks is null;
}
Console.WriteLine(ok ? "result: OK" : "result: FAILED");
return ok ? 0 : 1;
