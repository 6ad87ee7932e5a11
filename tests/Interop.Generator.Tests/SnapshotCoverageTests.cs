using System;
using System.IO;
using System.Linq;
using System.Reflection;
using MachIpc.Messages;
using Xunit;

namespace MachIpc.Generator.Tests;

/// <summary>
/// A snapshot baseline only shows that the output did not change. Every message a baseline is generated for must also
/// be in the corpus that the semantic tests cover: the C oracle (CLayoutOracleTests), the CLR's layout and the byte
/// positions (CompiledMessageTests, over <see cref="MessageCorpus.All"/>).
/// </summary>
public class SnapshotCoverageTests
{
    [Fact]
    public void EverySnapshotMessageIsCoveredBySemanticTests()
    {
        string[] baselines = Directory.GetFiles(Path.Combine(GeneratorHarness.ProjectDirectory(), "Snapshots"), "*.g.cs.txt");
        Assert.NotEmpty(baselines);
        int messages = 0;
        foreach (string baseline in baselines)
        {
            // <namespace>.<Type>.<Part>.g.cs.txt
            string hint = Path.GetFileName(baseline)[..^".g.cs.txt".Length];
            string typeName = hint[..hint.LastIndexOf('.')];
            Type? type = typeof(SnapshotCoverageTests).Assembly.GetType(typeName);
            Assert.True(type is not null, $"{Path.GetFileName(baseline)}: '{typeName}' is not compiled into the test assembly (add its source under Messages/)");
            // A server's dispatch baseline is covered through the messages it dispatches.
            Type[] covered = type!.IsValueType
                ? new[] { type }
                : type.GetMethods(BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public)
                    .Select(m => m.GetParameters())
                    .Where(p => p.Length == 1 && p[0].ParameterType.IsGenericType && p[0].ParameterType.GetGenericTypeDefinition() == typeof(MachReceived<>))
                    .Select(p => p[0].ParameterType.GetGenericArguments()[0])
                    .ToArray();
            Assert.NotEmpty(covered);
            foreach (Type message in covered)
            {
                Assert.True(MessageCorpus.All.Contains(message), $"{Path.GetFileName(baseline)}: {message} is not in the message corpus");
                Assert.True(COracle.Layouts.ContainsKey(message.Name), $"{Path.GetFileName(baseline)}: {message.Name} has no C declaration in CLayout/layout_corpus.h");
                messages++;
            }
        }
        Assert.True(messages >= baselines.Length, $"{messages} messages for {baselines.Length} baselines");
    }
}
