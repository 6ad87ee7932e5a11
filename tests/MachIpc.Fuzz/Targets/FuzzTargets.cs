using System;
using System.Collections.Generic;

namespace MachIpc.Fuzz.Targets;

/// <summary>A fuzz target: takes any bytes, and throws only when it found a defect.</summary>
public delegate void FuzzTarget(ReadOnlySpan<byte> input);

/// <summary>Every target by the name build/fuzz.sh, the corpus directories and the replay tests use.</summary>
public static class FuzzTargets
{
    public static readonly IReadOnlyDictionary<string, FuzzTarget> All = new Dictionary<string, FuzzTarget>
    {
        ["validators"] = ValidatorTarget.Run,
        ["wire"] = WireTarget.Run,
        ["copyin"] = CopyInTarget.Run,
    };
}
