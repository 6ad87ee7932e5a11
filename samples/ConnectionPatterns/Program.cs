using System;
using MachIpc.Samples.ConnectionPatterns;

// Ladybird's second and third ways to connect processes, each between real child processes of this one:
//   pattern 2 (SocketPattern.cs): two processes already joined by a Unix-domain socket turn it into a Mach channel;
//   pattern 3 (PairPattern.cs):  a parent pre-creates a channel pair and moves one end to each of two helpers,
//                                 which then talk directly, the parent out of the way.
// (Pattern 1, helpers checking in with their parent, is samples/HelperPool.)
// Each side believes only the kernel about who is calling: the socket's peer credentials, the audit token.
return args switch
{
    [SocketPattern.ChildFlag, string path] => SocketPattern.RunChild(path),
    [PairPattern.PeerFlag, string service, string role] => PairPattern.RunPeer(service, role),
    [] => Report(SocketPattern.RunParent() == 0 & PairPattern.RunParent() == 0),
    _ => Usage(),
};

static int Report(bool ok)
{
    Console.WriteLine($"result: {(ok ? "OK" : "FAILED")}");
    return ok ? 0 : 1;
}

static int Usage()
{
    Console.Error.WriteLine("usage: ConnectionPatterns   (runs both patterns; the flags are for its child processes)");
    return 2;
}
