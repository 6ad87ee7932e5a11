using System.Collections.Concurrent;
using System.Diagnostics;
using MachIpc.Connections;
using MachIpc.Tests.CrossProcess;
using Xunit;

namespace MachIpc.Tests.Connections;

/// <summary>Process exit by pidfd (Linux) or kqueue NOTE_EXIT (macOS), with real child processes.</summary>
[Collection("cross-process")]
public sealed class ProcessExitWatchTests : ChildProcessTests
{
    private readonly BlockingCollection<ProcessExitWatch.Watch> _exited = new();

    private Process StartWaiting() => Start(false, null, "wait"); // reads one line, then exits

    private static void LetExit(Process p)
    {
        p.StandardInput.WriteLine();
        p.StandardInput.Flush();
        Assert.True(p.WaitForExit(ChildTimeout));
    }

    [Fact]
    public void AnExit_IsReportedOnce_WithTheWatchForThatProcess()
    {
        using var watcher = new ProcessExitWatch(_exited.Add);
        Process p = StartWaiting();
        ProcessExitWatch.Watch? watch = watcher.TryWatch(p.Id, out var outcome);
        Assert.Equal(ProcessExitWatch.Outcome.Watching, outcome);
        Assert.NotNull(watch);
        Assert.Equal(p.Id, watch.Pid);
        LetExit(p);
        Assert.True(_exited.TryTake(out var reported, ChildTimeout));
        Assert.Same(watch, reported);
        watcher.Dispose(); // joins the waiting thread: any second report would be queued by now
        Assert.Empty(_exited);
    }

    [Fact]
    public void APidWithNoProcess_IsReportedAsSuch()
    {
        using var watcher = new ProcessExitWatch(_exited.Add);
        Process p = StartWaiting();
        LetExit(p); // exited and reaped
        Assert.Null(watcher.TryWatch(p.Id, out var outcome));
        Assert.Equal(ProcessExitWatch.Outcome.NoSuchProcess, outcome);
        Assert.Null(watcher.TryWatch(0, out outcome));
        Assert.Equal(ProcessExitWatch.Outcome.NoSuchProcess, outcome);
    }

    [Fact]
    public void ACancelledWatch_IsNotReported()
    {
        var watcher = new ProcessExitWatch(_exited.Add);
        Process first = StartWaiting(), second = StartWaiting();
        var cancelled = watcher.TryWatch(first.Id, out _);
        var kept = watcher.TryWatch(second.Id, out _);
        watcher.Cancel(cancelled);
        LetExit(first);
        LetExit(second);
        Assert.True(_exited.TryTake(out var reported, ChildTimeout));
        Assert.Same(kept, reported);
        watcher.Dispose(); // the first exit happened earlier: had it been watched, it would be reported by now
        Assert.Empty(_exited);
        Assert.Throws<ObjectDisposedException>(() => watcher.TryWatch(Environment.ProcessId, out _));
    }
}
