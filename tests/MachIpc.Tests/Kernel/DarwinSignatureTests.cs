using System.Reflection;
using System.Runtime.InteropServices;
using MachIpc.Abi;
using MachIpc.Kernel.Darwin;
using MachIpc.Tests.Server;
using Xunit;

namespace MachIpc.Tests.Kernel;

/// <summary>
/// The Darwin backend only runs on macOS, but its P/Invoke declarations are checked here against libSystem's C
/// prototypes from the ABI fact sheet: entry point, library, ExactSpelling, and a blittable signature of
/// pointers and primitives of the right widths (LibraryImport's final generated form).
/// </summary>
public class DarwinSignatureTests
{
    // C prototype -> CLR parameter types (mach_port_t / natural_t / mach_msg_size_t ... = uint, *_return_t / int = int).
    private static readonly Dictionary<string, (Type Return, Type[] Parameters)> s_prototypes = new()
    {
        ["mach_msg"] = (typeof(int), [typeof(MachMsgHeader*), typeof(int), typeof(uint), typeof(uint), typeof(uint), typeof(uint), typeof(uint)]),
        ["mach_msg_destroy"] = (typeof(void), [typeof(MachMsgHeader*)]),
        ["mach_port_allocate"] = (typeof(int), [typeof(uint), typeof(uint), typeof(uint*)]),
        ["mach_port_construct"] = (typeof(int), [typeof(uint), typeof(MachPortOptions*), typeof(ulong), typeof(uint*)]),
        ["mach_port_names"] = (typeof(int), [typeof(uint), typeof(uint**), typeof(uint*), typeof(uint**), typeof(uint*)]),
        ["pid_for_task"] = (typeof(int), [typeof(uint), typeof(int*)]),
        ["mach_port_deallocate"] = (typeof(int), [typeof(uint), typeof(uint)]),
        ["mach_port_destroy"] = (typeof(int), [typeof(uint), typeof(uint)]),
        ["mach_port_mod_refs"] = (typeof(int), [typeof(uint), typeof(uint), typeof(uint), typeof(int)]),
        ["mach_port_insert_right"] = (typeof(int), [typeof(uint), typeof(uint), typeof(uint), typeof(uint)]),
        ["mach_port_extract_right"] = (typeof(int), [typeof(uint), typeof(uint), typeof(uint), typeof(uint*), typeof(uint*)]),
        ["mach_port_get_refs"] = (typeof(int), [typeof(uint), typeof(uint), typeof(uint), typeof(uint*)]),
        ["mach_port_type"] = (typeof(int), [typeof(uint), typeof(uint), typeof(uint*)]),
        ["mach_port_request_notification"] = (typeof(int), [typeof(uint), typeof(uint), typeof(int), typeof(uint), typeof(uint), typeof(uint), typeof(uint*)]),
        ["mach_port_set_attributes"] = (typeof(int), [typeof(uint), typeof(uint), typeof(int), typeof(int*), typeof(uint)]),
        ["mach_port_get_attributes"] = (typeof(int), [typeof(uint), typeof(uint), typeof(int), typeof(int*), typeof(uint*)]),
        ["mach_port_insert_member"] = (typeof(int), [typeof(uint), typeof(uint), typeof(uint)]),
        ["mach_port_extract_member"] = (typeof(int), [typeof(uint), typeof(uint), typeof(uint)]),
        ["mach_port_move_member"] = (typeof(int), [typeof(uint), typeof(uint), typeof(uint)]),
        ["mach_vm_deallocate"] = (typeof(int), [typeof(uint), typeof(ulong), typeof(ulong)]),
        ["task_get_special_port"] = (typeof(int), [typeof(uint), typeof(int), typeof(uint*)]),
        ["bootstrap_check_in"] = (typeof(int), [typeof(uint), typeof(byte*), typeof(uint*)]),
        ["bootstrap_register"] = (typeof(int), [typeof(uint), typeof(byte*), typeof(uint)]),
        ["bootstrap_look_up"] = (typeof(int), [typeof(uint), typeof(byte*), typeof(uint*)]),
        ["fileport_makeport"] = (typeof(int), [typeof(int), typeof(uint*)]),
        ["fileport_makefd"] = (typeof(int), [typeof(uint)]),
    };

    private static MethodInfo[] NativeMethods() =>
        typeof(DarwinKernel).GetNestedType("Native", BindingFlags.NonPublic)!
            .GetMethods(BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public | BindingFlags.DeclaredOnly);

    [Fact]
    public void EveryLibSystemEntryPointOfTheSeamIsDeclared_WithItsCPrototype()
    {
        var methods = NativeMethods().ToDictionary(m => m.Name);
        Assert.Equal(s_prototypes.Keys.Order(), methods.Keys.Order());
        foreach (var (name, (returnType, parameters)) in s_prototypes)
        {
            var method = methods[name];
            var import = method.GetCustomAttribute<DllImportAttribute>();
            Assert.NotNull(import);
            Assert.Equal("/usr/lib/libSystem.B.dylib", import.Value);
            Assert.Equal(name, import.EntryPoint);
            Assert.True(import.ExactSpelling, name);
            Assert.Equal(returnType, method.ReturnType);
            Assert.Equal(parameters, method.GetParameters().Select(p => p.ParameterType).ToArray());
        }
    }

    [Fact]
    public void GeneratedStubsDeclareTheSameMachMsgSignature()
    {
        var generated = typeof(EchoRequest).GetNestedType("__Native", BindingFlags.NonPublic)!.GetMethod("mach_msg", BindingFlags.Static | BindingFlags.NonPublic)!;
        var import = generated.GetCustomAttribute<DllImportAttribute>()!;
        Assert.Equal("/usr/lib/libSystem.B.dylib", import.Value);
        Assert.Equal("mach_msg", import.EntryPoint);
        Assert.True(import.ExactSpelling);
        Assert.Equal(s_prototypes["mach_msg"].Parameters, generated.GetParameters().Select(p => p.ParameterType).ToArray());
        Assert.Equal(typeof(int), generated.ReturnType);
    }
}
