using System;
using System.Collections.Generic;
using System.Text;
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

    // Every bootstrap call starts the same way (kernel lock held): the caller's task, its send right to the
    // bootstrap port, and a NUL-terminated name_t.
    private int BeginCall(uint bp, byte* serviceName, out SimulatedTask task, out string name)
    {
        task = CurrentTask;
        name = "";
        IpcEntry? e = LookupChecked(task.Space, bp);
        if (e is null || !e.Has(MachPortType.Send) || e.Port != _bootstrapPort)
        {
            return (int)MachMsgReturn.SendInvalidDest; // what the MIG send to a bad port returns
        }
        return TryReadName(serviceName, out name) ? 0 : (int)BootstrapReturn.BadCount;
    }

    public int BootstrapCheckIn(uint bp, byte* serviceName, uint* sp)
    {
        lock (_lock)
        {
            int rc = BeginCall(bp, serviceName, out SimulatedTask task, out string name);
            if (rc != 0)
            {
                return rc;
            }
            if (_services.TryGetValue(name, out BootstrapService? svc))
            {
                // F4: someone else's service, or our own already active.
                return (int)(svc.Owner == task ? BootstrapReturn.ServiceActive : BootstrapReturn.NotPrivileged);
            }
            // F4 dynamic check-in: launchd makes the port, keeps a send right, hands over the receive right.
            IpcPort port = NewPort(null);
            port.MsCount = 1;
            port.SRights = 1;
            _services.Add(name, new BootstrapService(name, port, task));
            uint got = CopyoutRight(task.Space, new KRight { Port = port, Type = MachMsgType.PortReceive });
            if (sp is not null)
            {
                *sp = got;
            }
            return (int)BootstrapReturn.Success;
        }
    }

    public int BootstrapRegister(uint bp, byte* serviceName, uint sp)
    {
        lock (_lock)
        {
            int rc = BeginCall(bp, serviceName, out SimulatedTask task, out string name);
            if (rc != 0)
            {
                return rc;
            }
            if (_services.TryGetValue(name, out BootstrapService? svc))
            {
                // F5: NOT_PRIVILEGED for another job's name (never NAME_IN_USE); ours is always active here,
                // because services are deleted as soon as their port dies.
                return (int)(svc.Owner == task ? BootstrapReturn.ServiceActive : BootstrapReturn.NotPrivileged);
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
            if (CopyinRight(task.Space, sp, MachMsgType.CopySend, deadOk: false, out KRight r) != KernReturn.Success)
            {
                return (int)MachMsgReturn.SendInvalidRight;
            }
            _services.Add(name, new BootstrapService(name, r.Port!, task));
            return (int)BootstrapReturn.Success;
        }
    }

    public int BootstrapLookUp(uint bp, byte* serviceName, uint* sp)
    {
        lock (_lock)
        {
            int rc = BeginCall(bp, serviceName, out SimulatedTask task, out string name);
            if (rc != 0)
            {
                return rc;
            }
            if (!_services.TryGetValue(name, out BootstrapService? svc))
            {
                return (int)BootstrapReturn.UnknownService; // F3
            }
            svc.Port.SRights++; // look_up2 returns a COPY_SEND of launchd's right (F2, B14 merge on copyout)
            uint got = CopyoutRight(task.Space, new KRight { Port = svc.Port, Type = MachMsgType.PortSend });
            if (sp is not null)
            {
                *sp = got;
            }
            return (int)BootstrapReturn.Success;
        }
    }

    /// <summary>F6a: launchd's dead-name handling, done synchronously: every service on the dead port goes.</summary>
    private void BootstrapPortDied(IpcPort p)
    {
        if (_services.Count == 0)
        {
            return;
        }
        List<string>? gone = null;
        foreach (KeyValuePair<string, BootstrapService> kv in _services)
        {
            if (kv.Value.Port == p)
            {
                (gone ??= new()).Add(kv.Key);
            }
        }
        if (gone is null)
        {
            return;
        }
        foreach (string n in gone)
        {
            _services.Remove(n);
            p.SRights--; // launchd deallocates its (now dead) name
        }
    }

    /// <summary>F6: the anonymous job's removal deletes its services; launchd's send rights are released.</summary>
    private void BootstrapTaskDied(SimulatedTask task)
    {
        List<BootstrapService>? gone = null;
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
            if (svc.Port.Active)
            {
                ReleaseSend(svc.Port);
            }
            else
            {
                svc.Port.SRights--;
            }
        }
    }
}
