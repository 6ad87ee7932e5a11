using MachIpc.Abi;
using MachIpc.Connections;
using MachIpc.Kernel.Simulated;
using MachIpc.Messages;
using Xunit;

namespace MachIpc.Tests.Connections;

[MachMessage(5200)]
public partial struct Note
{
    public MachMsgHeader Header;
    public int Value;
}

/// <summary>
/// Connection tests between two tasks of the simulated kernel in this process (a parent and a helper, each with
/// its own name space, pid and audit token): simulator-only. Every test ends with a leak check of both spaces.
/// </summary>
public abstract class InProcessTaskTests : IDisposable
{
    protected readonly SimulatedTask _parent = SimulatedMach.CreateTask("parent");
    protected readonly SimulatedTask _helper = SimulatedMach.CreateTask("helper");
    protected readonly string _prefix = "org.machipc.tests." + Guid.NewGuid().ToString("N")[..12];
    private readonly IReadOnlyList<PortRightInfo> _parentBaseline;
    private readonly IReadOnlyList<PortRightInfo> _helperBaseline;

    protected InProcessTaskTests()
    {
        _parentBaseline = _parent.Rights();
        _helperBaseline = _helper.Rights();
    }

    public void Dispose()
    {
        _parent.Dispose();
        _helper.Dispose();
        GC.SuppressFinalize(this);
    }

    protected void AssertNoLeaks()
    {
        Assert.Equal(_parentBaseline, _parent.Rights());
        Assert.Equal(_helperBaseline, _helper.Rights());
        Assert.Equal(0, _parent.OutstandingVmRegions);
        Assert.Equal(0, _helper.OutstandingVmRegions);
    }

    protected static void SendNote(MachChannel channel, int value)
    {
        var note = new Note { Value = value };
        note.Prepare(channel.Send.Name);
        Assert.Equal(MachMsgReturn.Success, note.Send());
    }

    protected static int ReceiveNote(MachChannel channel)
    {
        Span<byte> buffer = stackalloc byte[Note.ReceiveBufferSize];
        Assert.Equal(MachMsgReturn.Success, Note.Receive(channel.Receive.Name, buffer, MachMsgOption.RcvTimeout, 5000));
        Assert.Equal(MachValidationError.None, Note.TryRead(buffer, out var note));
        return note.Message.Value;
    }

    /// <summary>Runs <paramref name="body"/> as <paramref name="task"/> on a thread of its own; the task completes with its result.</summary>
    protected static Task<T> StartIn<T>(SimulatedTask task, Func<T> body)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            using (task.Enter())
            {
                try
                {
                    done.SetResult(body());
                }
                catch (Exception ex)
                {
                    done.SetException(ex);
                }
            }
        });
        thread.Start();
        return done.Task;
    }

    /// <summary>Runs <paramref name="body"/> as <paramref name="task"/> and waits for it; its exception comes back wrapped in an <see cref="AggregateException"/>.</summary>
    protected static T RunIn<T>(SimulatedTask task, Func<T> body)
    {
        return Finish(StartIn(task, body));
    }

    /// <summary>Waits for a task started with <see cref="StartIn"/>; its exception comes back wrapped in an <see cref="AggregateException"/>.</summary>
    protected static T Finish<T>(Task<T> run)
    {
        Assert.True(run.Wait(TimeSpan.FromSeconds(30)), "the task's thread did not finish"); // throws the AggregateException
        return run.Result;
    }
}
