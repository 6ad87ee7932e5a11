using System;
using System.Runtime.InteropServices;

namespace MachIpc.Kernel.Simulated;

/// <summary>
/// copyin for out-of-line memory. XNU reads a sender's out-of-line region with copyin / vm_map_copyin and
/// answers an unreadable address with MACH_SEND_INVALID_MEMORY (A29, A30). A user-space kernel that simply
/// dereferenced the address would crash the process instead, so on Linux the bytes are read with
/// process_vm_readv on our own pid, which fails with EFAULT rather than faulting. Where that call is not
/// available (another OS, or a sandbox that forbids it) the copy falls back to a plain read, which only
/// rejects a null address.
/// </summary>
internal static unsafe class UserMemory
{
    private const int EFAULT = 14;
    private static readonly int s_pid = Environment.ProcessId;
    private static volatile bool s_vmReadvUnavailable = !OperatingSystem.IsLinux();

    /// <summary>Copies <paramref name="size"/> bytes from the sender's <paramref name="address"/>; false if it is not readable.</summary>
    public static bool TryCopyIn(ulong address, void* destination, nuint size)
    {
        if (size == 0)
        {
            return true;
        }
        if (address == 0 || address + size < address)
        {
            return false;
        }
        if (!s_vmReadvUnavailable)
        {
            var local = new IoVec { Base = destination, Length = size };
            var remote = new IoVec { Base = (void*)address, Length = size };
            nint n = process_vm_readv(s_pid, &local, 1, &remote, 1, 0);
            if (n == (nint)size)
            {
                return true;
            }
            int errno = Marshal.GetLastSystemError();
            if (n >= 0 || errno == EFAULT)
            {
                return false; // a short read means the range ends in unmapped memory
            }
            s_vmReadvUnavailable = true; // ENOSYS / EPERM: fall through to the plain copy from now on
        }
        Buffer.MemoryCopy((void*)address, destination, size, size);
        return true;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct IoVec
    {
        public void* Base;
        public nuint Length;
    }

    [DllImport("libc", EntryPoint = "process_vm_readv", ExactSpelling = true, SetLastError = true)]
    private static extern nint process_vm_readv(int pid, IoVec* localIov, nuint localCount, IoVec* remoteIov, nuint remoteCount, nuint flags);
}
