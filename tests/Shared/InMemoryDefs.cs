using System;
using System.Collections.Generic;
using System.Threading;
using MachIpc.Generator;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;

namespace MachIpc.Tests.Shared;

/// <summary>A .defs file handed to the generator from memory, as the build hands over an AdditionalFiles item.</summary>
internal sealed class InMemoryDefs : AdditionalText
{
    private readonly SourceText _text;

    public InMemoryDefs(string path, string text)
    {
        Path = path;
        _text = SourceText.From(text);
    }

    public override string Path { get; }

    public override SourceText GetText(CancellationToken cancellationToken = default) => _text;
}

/// <summary>The analyzer config a build gives the generator: each MachInterface item's Defines and Namespace metadata.</summary>
internal sealed class MachInterfaceOptions : AnalyzerConfigOptionsProvider
{
    private static readonly Values s_none = new(new Dictionary<string, string>());
    private readonly Dictionary<string, Values> _files = new(StringComparer.Ordinal);

    /// <param name="files">Per .defs path: its Defines and Namespace metadata.</param>
    public MachInterfaceOptions(IEnumerable<(string Path, string Defines, string Namespace)> files)
    {
        foreach ((string path, string defines, string ns) in files)
        {
            _files[path] = new Values(new Dictionary<string, string>
            {
                [MachInterfaceGenerator.DefinesMetadata] = defines,
                [MachInterfaceGenerator.NamespaceMetadata] = ns,
            });
        }
    }

    public override AnalyzerConfigOptions GlobalOptions => s_none;

    public override AnalyzerConfigOptions GetOptions(SyntaxTree tree) => s_none;

    public override AnalyzerConfigOptions GetOptions(AdditionalText textFile) => _files.TryGetValue(textFile.Path, out Values? values) ? values : s_none;

    private sealed class Values : AnalyzerConfigOptions
    {
        private readonly Dictionary<string, string> _values;

        public Values(Dictionary<string, string> values) => _values = values;

        public override bool TryGetValue(string key, out string value) => _values.TryGetValue(key, out value!);
    }
}
