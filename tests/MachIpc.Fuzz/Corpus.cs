using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace MachIpc.Fuzz;

/// <summary>The committed inputs: <c>corpus/TARGET</c> (seeds) and <c>findings/TARGET</c> (regressions from fuzzing).</summary>
public static class Corpus
{
    public static IEnumerable<string> Files(IEnumerable<string> paths) =>
        paths.SelectMany<string, string>(p => Directory.Exists(p) ? Directory.GetFiles(p).Where(f => !Path.GetFileName(f).StartsWith('.')).Order() : [p]);

    public static IEnumerable<string> Committed(string target) =>
        Files(new[] { "corpus", "findings" }.Select(d => Path.Combine(System.AppContext.BaseDirectory, d, target)).Where(Directory.Exists));
}
