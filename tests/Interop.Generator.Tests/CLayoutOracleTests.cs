using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Xunit;

namespace MachIpc.Generator.Tests;

/// <summary>
/// Compiles CLayout/layout_oracle.c with the system C compiler and checks that every generated SendSize and field
/// offset equals what the C compiler computes for the same declaration.
/// </summary>
public class CLayoutOracleTests
{
    [Fact]
    public void GeneratedOffsetsEqualTheCCompilers()
    {
        Dictionary<string, Dictionary<string, int>> oracle = RunOracle();
        Type[] messages = typeof(CLayoutOracleTests).Assembly.GetTypes()
            .Where(t => t.Namespace == "MachIpc.Generator.Tests.Messages" && t.GetNestedType("Offsets") is not null)
            .ToArray();
        Assert.Equal(oracle.Keys.OrderBy(k => k, StringComparer.Ordinal), messages.Select(t => t.Name).OrderBy(k => k, StringComparer.Ordinal));

        int compared = 0;
        foreach (Type message in messages)
        {
            Dictionary<string, int> c = oracle[message.Name];
            Assert.True(c["sizeof"] == Constant(message, "SendSize"), $"{message.Name}: C sizeof {c["sizeof"]}, generated SendSize {Constant(message, "SendSize")}");
            FieldInfo[] offsets = message.GetNestedType("Offsets")!.GetFields();
            Assert.Equal(c.Count - 1, offsets.Length);
            foreach (FieldInfo offset in offsets)
            {
                int generated = (int)offset.GetRawConstantValue()!;
                Assert.True(c.TryGetValue(offset.Name, out int expected), $"{message.Name}.{offset.Name} missing from the C oracle");
                Assert.True(expected == generated, $"{message.Name}.{offset.Name}: C offset {expected}, generated {generated}");
                compared++;
            }
        }
        Assert.True(compared > 40, $"only {compared} offsets compared");
    }

    private static int Constant(Type type, string name) => (int)type.GetField(name)!.GetRawConstantValue()!;

    private static Dictionary<string, Dictionary<string, int>> RunOracle()
    {
        var result = new Dictionary<string, Dictionary<string, int>>();
        foreach (string line in CProgram.Run("layout_oracle.c").Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] parts = line.Split(' ');
            if (!result.TryGetValue(parts[0], out Dictionary<string, int>? fields))
            {
                result[parts[0]] = fields = new Dictionary<string, int>();
            }
            fields[parts[1]] = int.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture);
        }
        return result;
    }
}
