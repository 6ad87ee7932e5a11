using System;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using MachIpc.Abi;
using MachIpc.Kernel;
using MachIpc.Ports;

namespace MachIpc.Bootstrap;

/// <summary>
/// The bootstrap (launchd) name service: <c>bootstrap_check_in</c>, <c>bootstrap_register</c> and
/// <c>bootstrap_look_up</c> on the process's <c>bootstrap_port</c>. Service names are at most 127 UTF-8 bytes
/// without NUL (<c>name_t</c>); anything else is an <see cref="ArgumentException"/>, never a truncated name.
/// </summary>
public static unsafe class BootstrapServer
{
    /// <summary>
    /// Checks in <paramref name="serviceName"/>: the caller receives the service's receive right (created on
    /// the fly when the name is unknown, as launchd's dynamic check-in does). False with the bootstrap server's
    /// answer in <paramref name="reason"/> (e.g. <see cref="BootstrapReturn.ServiceActive"/>: someone holds it).
    /// </summary>
    public static bool TryCheckIn(string serviceName, [NotNullWhen(true)] out ReceiveRight? receive, out BootstrapReturn reason)
    {
        receive = null;
        reason = (BootstrapReturn)Call(Operation.CheckIn, serviceName, 0, out uint sp);
        if (reason == BootstrapReturn.Success)
        {
            receive = ReceiveRight.Adopt(sp);
        }
        return receive is not null;
    }

    /// <summary>Registers a send right under <paramref name="serviceName"/>; the caller keeps its own right (launchd copies it).</summary>
    public static bool TryRegister(string serviceName, SendRight send, out BootstrapReturn reason)
    {
        ArgumentNullException.ThrowIfNull(send);
        reason = (BootstrapReturn)Call(Operation.Register, serviceName, send.Name, out _);
        return reason == BootstrapReturn.Success;
    }

    /// <summary>
    /// Looks up <paramref name="serviceName"/>; on success the caller owns one send right to the service. False with
    /// the answer in <paramref name="reason"/> (e.g. <see cref="BootstrapReturn.UnknownService"/>).
    /// </summary>
    public static bool TryLookUp(string serviceName, [NotNullWhen(true)] out SendRight? send, out BootstrapReturn reason)
    {
        send = null;
        reason = (BootstrapReturn)Call(Operation.LookUp, serviceName, 0, out uint sp);
        if (reason == BootstrapReturn.Success)
        {
            send = SendRight.Adopt(sp);
        }
        return send is not null;
    }

    /// <summary>Like <see cref="TryCheckIn"/>, throwing <see cref="MachException"/> on failure.</summary>
    public static ReceiveRight CheckIn(string serviceName)
    {
        return TryCheckIn(serviceName, out var receive, out var kr) ? receive : throw new MachException($"bootstrap_check_in(\"{serviceName}\")", kr);
    }

    /// <summary>Like <see cref="TryLookUp"/>, throwing <see cref="MachException"/> on failure.</summary>
    public static SendRight LookUp(string serviceName)
    {
        return TryLookUp(serviceName, out var send, out var kr) ? send : throw new MachException($"bootstrap_look_up(\"{serviceName}\")", kr);
    }

    /// <summary>Like <see cref="TryRegister"/>, throwing <see cref="MachException"/> on failure.</summary>
    public static void Register(string serviceName, SendRight send)
    {
        if (!TryRegister(serviceName, send, out var kr))
        {
            throw new MachException($"bootstrap_register(\"{serviceName}\")", kr);
        }
    }

    private enum Operation { CheckIn, Register, LookUp }

    /// <summary>
    /// Checks that <paramref name="serviceName"/> fits a <c>name_t</c> (char[128]: at most 127 UTF-8 bytes, then
    /// the NUL) and holds no NUL of its own, and writes it NUL-terminated into <paramref name="destination"/>
    /// (at least <see cref="BootstrapLimits.MaxNameLength"/> bytes). A longer name would be truncated by a C
    /// stub, and an embedded NUL would end it early: either way the call would name someone else's service.
    /// </summary>
    /// <exception cref="ArgumentException">The name is empty, too long or contains NUL.</exception>
    internal static int EncodeName(string serviceName, Span<byte> destination)
    {
        ArgumentException.ThrowIfNullOrEmpty(serviceName);
        if (serviceName.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException("Bootstrap service names cannot contain NUL: the name would end there.", nameof(serviceName));
        }
        int written;
        try
        {
            written = Encoding.UTF8.GetBytes(serviceName, destination[..(BootstrapLimits.MaxNameLength - 1)]);
        }
        catch (ArgumentException)
        {
            throw new ArgumentException($"Bootstrap service names are at most {BootstrapLimits.MaxNameLength - 1} UTF-8 bytes.", nameof(serviceName));
        }
        destination[written] = 0;
        return written;
    }

    // Like Chromium, Ladybird and ipc-channel, talk to the bootstrap_port global libSystem set up at process
    // start, rather than asking the kernel for TASK_BOOTSTRAP_PORT (a new send right) on every call.
    private static int Call(Operation operation, string serviceName, uint registerPort, out uint port)
    {
        port = MachPortName.Null;
        byte* name = stackalloc byte[BootstrapLimits.MaxNameLength];
        EncodeName(serviceName, new Span<byte>(name, BootstrapLimits.MaxNameLength));
        uint bp = Mach.BootstrapPort;
        uint result = MachPortName.Null;
        int code = operation switch
        {
            Operation.CheckIn => Mach.BootstrapCheckIn(bp, name, &result),
            Operation.Register => Mach.BootstrapRegister(bp, name, registerPort),
            _ => Mach.BootstrapLookUp(bp, name, &result),
        };
        port = result;
        return code;
    }
}
