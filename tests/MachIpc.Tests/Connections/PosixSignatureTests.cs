using System.Reflection;
using System.Runtime.InteropServices;
using MachIpc.Connections;
using Xunit;

namespace MachIpc.Tests.Connections;

/// <summary>
/// The connection patterns' process and socket calls, checked against their C prototypes: the macOS ones cannot run
/// here, so their library, entry point, blittable signature and <c>struct kevent</c> layout (xnu bsd/sys/event.h,
/// <c>#pragma pack(4)</c>) are what can be checked.
/// </summary>
public sealed unsafe class PosixSignatureTests
{
    private static readonly Dictionary<string, (Type Return, Type[] Parameters)> s_darwin = new()
    {
        ["getppid"] = (typeof(int), []),
        ["getsockopt"] = (typeof(int), [typeof(int), typeof(int), typeof(int), typeof(void*), typeof(uint*)]),
        ["kqueue"] = (typeof(int), []),
        ["kevent"] = (typeof(int), [typeof(int), typeof(Posix.Darwin.KEvent*), typeof(int), typeof(Posix.Darwin.KEvent*), typeof(int), typeof(void*)]),
        ["close"] = (typeof(int), [typeof(int)]),
    };

    private static readonly Dictionary<string, (Type Return, Type[] Parameters)> s_linux = new()
    {
        ["getppid"] = (typeof(int), []),
        ["pidfd_open"] = (typeof(int), [typeof(int), typeof(uint)]),
        ["syscall"] = (typeof(nint), [typeof(nint), typeof(nint), typeof(nint)]),
        ["eventfd"] = (typeof(int), [typeof(uint), typeof(int)]),
        ["poll"] = (typeof(int), [typeof(Posix.Linux.PollFd*), typeof(nuint), typeof(int)]),
        ["read"] = (typeof(nint), [typeof(int), typeof(void*), typeof(nuint)]),
        ["write"] = (typeof(nint), [typeof(int), typeof(void*), typeof(nuint)]),
        ["close"] = (typeof(int), [typeof(int)]),
    };

    public static TheoryData<string> Libraries => new() { "darwin", "linux" };

    [Theory]
    [MemberData(nameof(Libraries))]
    public void EveryEntryPoint_IsDeclaredWithItsCPrototype(string os)
    {
        var (type, library, prototypes) = os == "darwin"
            ? (typeof(Posix.Darwin), "/usr/lib/libSystem.B.dylib", s_darwin)
            : (typeof(Posix.Linux), "libc", s_linux);
        var methods = type.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.DeclaredOnly).ToDictionary(m => m.Name);
        Assert.Equal(prototypes.Keys.Order(), methods.Keys.Order());
        foreach (var (name, (returnType, parameters)) in prototypes)
        {
            var import = methods[name].GetCustomAttribute<DllImportAttribute>();
            Assert.NotNull(import);
            Assert.Equal(library, import.Value);
            Assert.Equal(name, import.EntryPoint);
            Assert.True(import.ExactSpelling, name);
            Assert.Equal(returnType, methods[name].ReturnType);
            Assert.Equal(parameters, methods[name].GetParameters().Select(p => p.ParameterType).ToArray());
        }
    }

    [Fact]
    public void KEvent_HasTheLayoutOfStructKevent()
    {
        Assert.Equal(32, sizeof(Posix.Darwin.KEvent));
        Assert.Equal(0, (int)Marshal.OffsetOf<Posix.Darwin.KEvent>(nameof(Posix.Darwin.KEvent.Ident)));
        Assert.Equal(8, (int)Marshal.OffsetOf<Posix.Darwin.KEvent>(nameof(Posix.Darwin.KEvent.Filter)));
        Assert.Equal(10, (int)Marshal.OffsetOf<Posix.Darwin.KEvent>(nameof(Posix.Darwin.KEvent.Flags)));
        Assert.Equal(12, (int)Marshal.OffsetOf<Posix.Darwin.KEvent>(nameof(Posix.Darwin.KEvent.FFlags)));
        Assert.Equal(16, (int)Marshal.OffsetOf<Posix.Darwin.KEvent>(nameof(Posix.Darwin.KEvent.Data)));
        Assert.Equal(24, (int)Marshal.OffsetOf<Posix.Darwin.KEvent>(nameof(Posix.Darwin.KEvent.UData)));
        Assert.Equal(8, sizeof(Posix.Linux.PollFd));
    }
}
