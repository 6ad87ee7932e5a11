using BenchmarkDotNet.Running;

namespace MachIpc.Benchmarks;

public static class Program
{
    // dotnet run -c Release --project tests/MachIpc.Benchmarks -- --filter '*RoundTrip*' [--job short]
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
