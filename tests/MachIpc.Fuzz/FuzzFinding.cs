using System;

namespace MachIpc.Fuzz;

/// <summary>An invariant a target checks was broken: AFL++ sees it as a crash, the replay tests as a failure.</summary>
public sealed class FuzzFinding(string message) : Exception(message);
