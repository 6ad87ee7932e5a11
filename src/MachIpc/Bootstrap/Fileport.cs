using System;
using MachIpc.Kernel;
using MachIpc.Ports;
using Microsoft.Win32.SafeHandles;

namespace MachIpc.Bootstrap;

/// <summary>
/// File descriptors as Mach attachments: <c>fileport_makeport</c> wraps an open file in a send right that can
/// travel in a message; <c>fileport_makefd</c> turns a received fileport back into a new descriptor.
/// </summary>
public static unsafe class Fileport
{
    /// <summary>Makes a fileport for <paramref name="fd"/>; the file stays open while any send right to it exists.</summary>
    /// <exception cref="System.IO.IOException">The descriptor can't be sent (errno in the message).</exception>
    public static SendRight MakePort(int fd)
    {
        uint port;
        if (Mach.FileportMakePort(fd, &port) != 0)
        {
            throw new System.IO.IOException($"fileport_makeport({fd}) failed: errno {Mach.LastErrno}");
        }
        return SendRight.Adopt(port);
    }

    /// <summary>
    /// Makes a fileport for an open file; the handle is kept alive for the duration of the call and may be
    /// closed afterwards (the fileport keeps the file open).
    /// </summary>
    public static SendRight MakePort(SafeFileHandle file)
    {
        ArgumentNullException.ThrowIfNull(file);
        bool added = false;
        try
        {
            file.DangerousAddRef(ref added);
            return MakePort((int)file.DangerousGetHandle());
        }
        finally
        {
            if (added)
            {
                file.DangerousRelease();
            }
        }
    }

    /// <summary>Makes a new descriptor (close-on-exec, sharing the open file description) from a fileport; the right is not consumed.</summary>
    /// <exception cref="System.IO.IOException">The name is not a fileport (errno in the message).</exception>
    public static int MakeFd(SendRight fileport)
    {
        ArgumentNullException.ThrowIfNull(fileport);
        int fd = Mach.FileportMakeFd(fileport.Name);
        if (fd < 0)
        {
            throw new System.IO.IOException($"fileport_makefd(0x{fileport.Name:x}) failed: errno {Mach.LastErrno}");
        }
        return fd;
    }
}
