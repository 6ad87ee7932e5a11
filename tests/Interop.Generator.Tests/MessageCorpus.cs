using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MachIpc.Messages;
using Xunit;

namespace MachIpc.Generator.Tests;

/// <summary>
/// The generator's test corpus: every <c>[MachMessage]</c> struct under Messages/, generated into this assembly by the
/// analyzer reference. The semantic tests (C oracle, CLR layout, byte positions) run over all of it, and the snapshot
/// baselines are checked to name only messages in it.
/// </summary>
internal static class MessageCorpus
{
    public static IReadOnlyList<Type> All { get; } = typeof(MessageCorpus).Assembly.GetTypes()
        .Where(t => t.IsValueType && t.IsDefined(typeof(MachMessageAttribute), inherit: false))
        .OrderBy(t => t.FullName, StringComparer.Ordinal)
        .ToArray();

    public static TheoryData<Type> Theory
    {
        get
        {
            var data = new TheoryData<Type>();
            foreach (Type t in All)
            {
                data.Add(t);
            }
            return data;
        }
    }

    public static int Constant(Type type, string name) => (int)type.GetField(name)!.GetRawConstantValue()!;

    /// <summary>The message's instance fields in declaration order.</summary>
    public static FieldInfo[] Fields(Type type) =>
        type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic).OrderBy(f => f.MetadataToken).ToArray();

    public static int SizeOf(Type type) =>
        (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(type).Invoke(null, null)!;

    /// <summary>The bytes of a boxed unmanaged value, as the CLR lays it out.</summary>
    public static byte[] Bytes(object value) =>
        (byte[])typeof(MessageCorpus).GetMethod(nameof(BytesOf), BindingFlags.Static | BindingFlags.NonPublic)!
            .MakeGenericMethod(value.GetType()).Invoke(null, new[] { value })!;

    /// <summary>A value of the unmanaged <paramref name="type"/> whose bytes are <paramref name="bytes"/>.</summary>
    public static object FromBytes(Type type, byte[] bytes) =>
        typeof(MessageCorpus).GetMethod(nameof(Read), BindingFlags.Static | BindingFlags.NonPublic)!
            .MakeGenericMethod(type).Invoke(null, new object[] { bytes })!;

    private static byte[] BytesOf<T>(T value) where T : unmanaged => TestBuffers.Bytes(value);

    private static object Read<T>(byte[] bytes) where T : unmanaged => MemoryMarshal.Read<T>(bytes);
}
