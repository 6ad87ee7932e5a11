using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using MachIpc.Abi;
using MachIpc.Kernel;
using MachIpc.Messages;
using Xunit;

namespace MachIpc.Native.Tests;

/// <summary>A message of this assembly: its generated stub's DllImport is what users' assemblies bind to.</summary>
[MachMessage(0x4D4E0001)]
public partial struct Probe
{
    public MachMsgHeader Header;
}

/// <summary>
/// The library exports exactly what the Darwin backend and the generated stubs bind to, with the C prototypes
/// their blittable signatures assume.
/// </summary>
public sealed class ExportTests
{
    /// <summary>Every DllImport of libSystem: the Darwin backend's and the stub the generator emitted here.</summary>
    private static List<MethodInfo> LibSystemImports()
    {
        Type native = typeof(Mach).Assembly.GetType("MachIpc.Kernel.Darwin.DarwinKernel+Native", throwOnError: true)!;
        var methods = native.GetMethods(BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public | BindingFlags.DeclaredOnly).ToList();
        methods.Add(typeof(Probe).GetNestedType("__Native", BindingFlags.NonPublic)!.GetMethod("mach_msg", BindingFlags.Static | BindingFlags.NonPublic)!);
        foreach (MethodInfo m in methods)
        {
            Assert.Equal("/usr/lib/libSystem.B.dylib", m.GetCustomAttribute<DllImportAttribute>()!.Value);
        }
        return methods;
    }

    private static string EntryPoint(MethodInfo m) => m.GetCustomAttribute<DllImportAttribute>()!.EntryPoint!;

    // DarwinKernel reads these two with NativeLibrary.GetExport; LibSystemOnLinux joins through the third.
    private static readonly string[] s_dataAndJoin = ["mach_task_self_", "bootstrap_port", "machipc_libsystem_join"];

    // What MIG-generated C links against beside the calls above (libsyscall's mig_reply_port.c and mach_msg.c,
    // osfmk/mach/i386/ndr_def.h): C peers use them, .NET does not (the generated C# has its own).
    private static readonly string[] s_migSupport = ["NDR_record", "mig_get_reply_port", "mig_dealloc_reply_port", "mig_put_reply_port", "mach_msg_server_once"];

    [Fact]
    public void ExportsAreExactlyTheDarwinBackendsAndTheStubsEntryPoints_TheTwoDataSymbols_TheJoinCall_AndMigsSupport()
    {
        string library = Shim.LibraryPath;
        var (code, output) = Shim.Run("nm", ["-D", "--defined-only", library]);
        Assert.True(code == 0, output);
        var exported = output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(parts => parts.Length == 3 && "TDBR".Contains(parts[1], StringComparison.Ordinal))
            .Select(parts => parts[2])
            .ToHashSet(StringComparer.Ordinal);
        var expected = LibSystemImports().Select(EntryPoint).Concat(s_dataAndJoin).Concat(s_migSupport).ToHashSet(StringComparer.Ordinal);
        Assert.Equal(expected.Order(StringComparer.Ordinal), exported.Order(StringComparer.Ordinal));
    }

    /// <summary>The C type a blittable CLR parameter stands for. 64-bit scalars go by their ABI typedef (on arm64
    /// macOS mach_port_context_t is unsigned long, on x86-64 unsigned long long): their width and sign are checked.</summary>
    private static string CType(Type type, string function, string parameter) => type switch
    {
        _ when type == typeof(void) => "void",
        _ when type == typeof(int) => "int",
        _ when type == typeof(uint) => "unsigned int",
        _ when type == typeof(int*) => "int *",
        _ when type == typeof(uint*) => "unsigned int *",
        _ when type == typeof(uint**) => "unsigned int **",
        _ when type == typeof(byte*) => function == "bootstrap_register" ? "char *" : "const char *",
        _ when type == typeof(MachMsgHeader*) => "mach_msg_header_t *",
        _ when type == typeof(MachPortOptions*) => "mach_port_options_t *",
        _ when type == typeof(ulong) && parameter == "context" => "mach_port_context_t",
        _ when type == typeof(ulong) && parameter == "address" => "mach_vm_address_t",
        _ when type == typeof(ulong) && parameter == "size" => "mach_vm_size_t",
        _ => throw new InvalidOperationException($"{function}({parameter}): no C type for {type}"),
    };

    [Fact]
    public void HeadersDeclareThePrototypesTheBindingsAssume()
    {
        var c = new StringBuilder("""
            #include <mach/mach.h>
            #include <mach/mach_vm.h>
            #include <servers/bootstrap.h>
            #include <sys/fileport.h>
            #define SAME(a, b) _Static_assert(__builtin_types_compatible_p(a, b), #a " is not " #b)
            #define U64(t) _Static_assert(sizeof(t) == 8 && (t)-1 > 0, #t " is not a 64-bit unsigned integer")
            U64(mach_port_context_t); U64(mach_vm_address_t); U64(mach_vm_size_t);
            SAME(__typeof__(mach_task_self_), unsigned int);
            SAME(__typeof__(bootstrap_port), unsigned int);
            /* MIG's support, as <mach/mig.h>, <mach/ndr.h> and <mach/mach.h> declare it. */
            SAME(__typeof__(NDR_record), NDR_record_t);
            _Static_assert(sizeof(NDR_record_t) == 8, "NDR_record_t is 8 bytes");
            SAME(__typeof__(&mig_get_reply_port), mach_port_t (*)(void));
            SAME(__typeof__(&mig_dealloc_reply_port), void (*)(mach_port_t));
            SAME(__typeof__(&mig_put_reply_port), void (*)(mach_port_t));
            SAME(__typeof__(&mach_msg_server_once), mach_msg_return_t (*)(boolean_t (*)(mach_msg_header_t *, mach_msg_header_t *),
                mach_msg_size_t, mach_port_t, mach_msg_options_t));

            """);
        int checkedFunctions = 0;
        foreach (MethodInfo m in LibSystemImports().DistinctBy(EntryPoint))
        {
            string name = EntryPoint(m);
            string parameters = string.Join(", ", m.GetParameters().Select(p => CType(p.ParameterType, name, p.Name!)));
            c.AppendLine($"SAME(__typeof__(&{name}), {CType(m.ReturnType, name, "return")} (*)({parameters}));");
            checkedFunctions++;
        }
        Assert.Equal(26, checkedFunctions);
        Shim.Compile("prototypes", c.ToString(), syntaxOnly: true);
    }
}
