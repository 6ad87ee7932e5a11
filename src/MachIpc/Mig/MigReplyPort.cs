using System;
using System.ComponentModel;
using MachIpc.Abi;
using MachIpc.Kernel;

namespace MachIpc.Mig;

/// <summary>
/// The calling thread's MIG reply port, as libsyscall's <c>mig_get_reply_port</c> keeps one per thread: generated MIG
/// clients send each request with a <c>MAKE_SEND_ONCE</c> right to it and receive the reply on it. After a failed call
/// it is kept or destroyed exactly as MIG's <c>__MachMsgErrorWithTimeout</c> decides, so a late reply can never be taken
/// for the answer to a later request.
/// </summary>
public static class MigReplyPort
{
    // The simulated kernel runs several tasks in one process: a name is only meaningful in the task that allocated it.
    [ThreadStatic] private static object? t_task;
    [ThreadStatic] private static uint t_port;
    [ThreadStatic] private static bool t_valid;

    /// <summary>The thread's reply port (a receive right), allocated on first use (<c>mig_get_reply_port</c>).</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public static unsafe uint Get()
    {
        object? task = Mach.Kernel.CaptureTask();
        if (t_valid && ReferenceEquals(task, t_task))
        {
            return t_port;
        }
        Destroy();
        uint name;
        KernReturn kr = Mach.PortAllocate(Mach.TaskSelf, MachPortRight.Receive, &name);
        if (kr != KernReturn.Success)
        {
            throw new MachException("mach_port_allocate (MIG reply port)", new MachError((int)kr));
        }
        t_task = task;
        t_port = name;
        t_valid = true;
        return name;
    }

    /// <summary>
    /// After a call that failed with <paramref name="result"/>: MIG keeps the port when the request never left
    /// (<c>MACH_SEND_INVALID_DATA</c>, <c>_DEST</c>, <c>_HEADER</c>) and destroys it otherwise, since a reply may still come.
    /// </summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public static void Release(MachMsgReturn result)
    {
        if (result is MachMsgReturn.SendInvalidData or MachMsgReturn.SendInvalidDest or MachMsgReturn.SendInvalidHeader)
        {
            return;
        }
        Destroy();
    }

    /// <summary>Destroys the calling thread's reply port, if it has one (<c>mig_dealloc_reply_port</c>).</summary>
    public static void Destroy()
    {
        if (!t_valid)
        {
            return;
        }
        t_valid = false;
        object? task = t_task;
        t_task = null;
        using IDisposable? _ = task is null ? null : Mach.Kernel.EnterTask(task);
        // The task may be gone (a simulated task torn down): then so is the port.
        Mach.PortDestroy(Mach.TaskSelf, t_port);
    }
}
