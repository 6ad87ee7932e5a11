using System;
using System.Collections.Generic;
using System.Text;
using System.Threading;
using MachIpc.Abi;

namespace MachIpc.Kernel.Simulated;

// Section F: a launchd-842-style bootstrap name service, served inside the kernel instead of over a MIG
// round trip. Every task's TASK_BOOTSTRAP_PORT is a send right to one kernel-held port (F7); look_up
// returns a real send right in the caller's space (F2). Every task is its own anonymous job.
internal sealed unsafe partial class SimulatedKernel
{
    private sealed class BootstrapService(string name, IpcPort port, SimulatedTask owner)
    {
        internal readonly string Name = name;
        internal readonly IpcPort Port = port;     // launchd's send right to it is counted in SRights
        internal readonly SimulatedTask Owner = owner;
    }

    // launchd's own state, not an IPC object: a leaf lock (no port or space is locked under it).
    private readonly KernelLock _servicesLock = KernelLock.Create();
    private readonly Dictionary<string, BootstrapService> _services = new(StringComparer.Ordinal);

    /// <summary>
    /// name_t is char[128]: at most 127 bytes plus NUL (F1). A name with no NUL in its first 128 bytes is
    /// rejected with BOOTSTRAP_BAD_COUNT rather than silently truncated as a MIG c_string stub might
    /// (the exact client-side behaviour was not traced, see kernel-semantics.md caveat 3).
    /// </summary>
    private static bool TryReadName(byte* p, out string name)
    {
        name = "";
        if (p is null)
        {
            return false;
        }
        for (int i = 0; i < BootstrapLimits.MaxNameLength; i++)
        {
            if (p[i] == 0)
            {
                name = Encoding.UTF8.GetString(p, i);
                return true;
            }
        }
        return false;
    }

    // Every bootstrap call starts the same way: the caller's task, its send right to the bootstrap port, and a
    // NUL-terminated name_t.
    private int BeginCall(uint bp, byte* serviceName, out SimulatedTask task, out string name)
    {
        task = CurrentTask;
        name = "";
        using (task.Space.Lock.EnterScope())
        {
            IpcEntry? e = task.Space.Active ? LookupChecked(task.Space, bp) : null;
            if (e is null || !e.Has(MachPortType.Send) || e.Port != _bootstrapPort)
            {
                return (int)MachMsgReturn.SendInvalidDest; // what the MIG send to a bad port returns
            }
        }
        return TryReadName(serviceName, out name) ? 0 : (int)BootstrapReturn.BadCount;
    }

    public int BootstrapCheckIn(uint bp, byte* serviceName, uint* sp)
    {
        try
        {
            int rc = BeginCall(bp, serviceName, out SimulatedTask task, out string name);
            if (rc != 0)
            {
                return rc;
            }
            // F4 dynamic check-in: launchd makes the port, keeps a send right, hands over the receive right.
            IpcPort port = NewPort(null);
            port.MsCount = 1;
            port.SRights = 1;
            BootstrapService? existing;
            using (_servicesLock.EnterScope())
            {
                if (!_services.TryGetValue(name, out existing))
                {
                    _services.Add(name, new BootstrapService(name, port, task));
                }
            }
            if (existing is not null)
            {
                PortGone(port); // never published
                // F4: someone else's service, or our own already active.
                return (int)(existing.Owner == task ? BootstrapReturn.ServiceActive : BootstrapReturn.NotPrivileged);
            }
            if (CopyoutToSpace(task.Space, new KRight { Port = port, Type = MachMsgType.PortReceive }, out uint got) != KernReturn.Success)
            {
                return (int)MachMsgReturn.RcvBodyError | MachMsgIpcSpace; // the MIG reply could not be received
            }
            if (sp is not null)
            {
                *sp = got;
            }
            return (int)BootstrapReturn.Success;
        }
        finally
        {
            Flush();
        }
    }

    public int BootstrapRegister(uint bp, byte* serviceName, uint sp)
    {
        try
        {
            int rc = BeginCall(bp, serviceName, out SimulatedTask task, out string name);
            if (rc != 0)
            {
                return rc;
            }
            using (_servicesLock.EnterScope())
            {
                if (_services.TryGetValue(name, out BootstrapService? svc))
                {
                    // F5: NOT_PRIVILEGED for another job's name (never NAME_IN_USE); ours is always active here,
                    // because services are deleted as soon as their port dies.
                    return (int)(svc.Owner == task ? BootstrapReturn.ServiceActive : BootstrapReturn.NotPrivileged);
                }
            }
            if (sp == MachPortName.Null)
            {
                return (int)BootstrapReturn.Success; // unregister: nothing to delete
            }
            if (sp == MachPortName.Dead)
            {
                return (int)BootstrapReturn.NoMemory;
            }
            // F2: serviceport travels as COPY_SEND; the registrant keeps its own right.
            KRight r = default;
            KernReturn kr;
            using (task.Space.Lock.EnterScope())
            {
                kr = task.Space.Active ? CopyinRight(task.Space, sp, MachMsgType.CopySend, deadOk: false, out r) : KernReturn.InvalidTask;
            }
            if (kr != KernReturn.Success)
            {
                return (int)MachMsgReturn.SendInvalidRight;
            }
            using (_servicesLock.EnterScope())
            {
                if (_services.TryAdd(name, new BootstrapService(name, r.Port!, task)))
                {
                    return (int)BootstrapReturn.Success;
                }
            }
            ReleaseKRight(r); // registered by another thread meanwhile
            return (int)BootstrapReturn.NotPrivileged;
        }
        finally
        {
            Flush();
        }
    }

    public int BootstrapLookUp(uint bp, byte* serviceName, uint* sp)
    {
        try
        {
            int rc = BeginCall(bp, serviceName, out SimulatedTask task, out string name);
            if (rc != 0)
            {
                return rc;
            }
            IpcPort port;
            using (_servicesLock.EnterScope())
            {
                if (!_services.TryGetValue(name, out BootstrapService? svc))
                {
                    return (int)BootstrapReturn.UnknownService; // F3
                }
                port = svc.Port;
            }
            Interlocked.Increment(ref port.SRights); // look_up2 returns a COPY_SEND of launchd's right (F2, B14 merge on copyout)
            if (CopyoutToSpace(task.Space, new KRight { Port = port, Type = MachMsgType.PortSend }, out uint got) != KernReturn.Success)
            {
                return (int)MachMsgReturn.RcvBodyError | MachMsgIpcSpace;
            }
            if (sp is not null)
            {
                *sp = got;
            }
            return (int)BootstrapReturn.Success;
        }
        finally
        {
            Flush();
        }
    }

    /// <summary>F6a: launchd's dead-name handling (deferred, no lock held): every service on the dead port goes.</summary>
    private void BootstrapPortDied(IpcPort p)
    {
        int gone = 0;
        using (_servicesLock.EnterScope())
        {
            if (_services.Count == 0)
            {
                return;
            }
            List<string>? names = null;
            foreach (KeyValuePair<string, BootstrapService> kv in _services)
            {
                if (kv.Value.Port == p)
                {
                    (names ??= new()).Add(kv.Key);
                }
            }
            if (names is null)
            {
                return;
            }
            foreach (string n in names)
            {
                _services.Remove(n);
                gone++;
            }
        }
        Interlocked.Add(ref p.SRights, unchecked((uint)-gone)); // launchd deallocates its (now dead) names
    }

    /// <summary>F6: the anonymous job's removal deletes its services; launchd's send rights are released.</summary>
    private void BootstrapTaskDied(SimulatedTask task)
    {
        List<BootstrapService>? gone = null;
        using (_servicesLock.EnterScope())
        {
            foreach (BootstrapService svc in _services.Values)
            {
                if (svc.Owner == task)
                {
                    (gone ??= new()).Add(svc);
                }
            }
            if (gone is null)
            {
                return;
            }
            foreach (BootstrapService svc in gone)
            {
                _services.Remove(svc.Name);
            }
        }
        foreach (BootstrapService svc in gone)
        {
            ReleaseSend(svc.Port); // a dead port only loses the count
        }
    }
}
