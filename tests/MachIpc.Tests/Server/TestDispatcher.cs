using System.Collections.Concurrent;
using MachIpc.Abi;
using MachIpc.Kernel;
using MachIpc.Messages;
using MachIpc.Server;

namespace MachIpc.Tests.Server;

/// <summary>
/// A hand-written dispatcher, so the server loop is tested independently of the generated one: the
/// same shape (switch on id, generated validator, handler) the generator emits.
/// </summary>
internal sealed unsafe class TestDispatcher : IMachDispatcher
{
    public int Handled;
    public bool ThrowInHandler;
    public readonly ConcurrentQueue<uint> ReceivedPorts = new();
    public ManualResetEventSlim? BlockHandler;
    public readonly ManualResetEventSlim HandlerEntered = new();
    /// <summary>When set, every echo handler waits here for the others: all its participants are inside handlers at once.</summary>
    public Barrier? AllInside;

    public int MaxRequestSize => Math.Max(EchoRequest.SendSize, CarriesPort.SendSize);

    public MachDispatchResult Dispatch(MachMsgHeader* message, int length)
    {
        var bytes = new ReadOnlySpan<byte>(message, length);
        switch (message->Id)
        {
            case EchoRequest.MsgId:
            {
                var error = EchoRequest.TryRead(bytes, out var request);
                if (error != MachValidationError.None)
                {
                    return MachDispatchResult.Rejected(MachValidation.Describe(error));
                }
                try
                {
                    HandlerEntered.Set();
                    BlockHandler?.Wait();
                    // Bounded, so that a server serving one message at a time fails the test instead of hanging it.
                    if (AllInside is not null && !AllInside.SignalAndWait(TimeSpan.FromSeconds(30)))
                    {
                        throw new InvalidOperationException("the other handlers never came in: messages were not served concurrently");
                    }
                    if (ThrowInHandler)
                    {
                        throw new InvalidOperationException("handler failure requested by the test");
                    }
                    var reply = new EchoReply { Value = request.Message.Value + 1, SenderPid = request.SenderPid ?? -1 };
                    reply.Prepare(MachPortName.Null);
                    var mr = request.Reply(ref reply);
                    if (mr != MachMsgReturn.Success)
                    {
                        throw new MachException("reply", mr);
                    }
                    Interlocked.Increment(ref Handled);
                    return MachDispatchResult.Handled;
                }
                catch (Exception ex)
                {
                    return MachDispatchResult.HandlerFailed(ex);
                }
            }
            case CarriesPort.MsgId:
            {
                var error = CarriesPort.TryRead(bytes, out var request);
                if (error != MachValidationError.None)
                {
                    return MachDispatchResult.Rejected(MachValidation.Describe(error));
                }
                // Takes nothing: the server destroys the carried right and the reply right.
                ReceivedPorts.Enqueue(request.Message.Port.Name);
                Interlocked.Increment(ref Handled);
                return MachDispatchResult.Handled;
            }
            default:
                return MachDispatchResult.UnknownId;
        }
    }
}
