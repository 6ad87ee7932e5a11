using System.Diagnostics;
using MachIpc.Kernel.Remote;
using MachIpc.Kernel.Simulated;
using Xunit;

namespace MachIpc.Tests.CrossProcess;

/// <summary>
/// Who may join a kernel host (Kernel/Remote/README.md, "Who may join"): only processes of the host's own user,
/// like launchd's per-user bootstrap namespace. The file modes keep other users from reaching the socket, and the
/// host checks the peer's uid itself (SO_PEERCRED), so opening the modes does not let another user in either.
/// The probe is a few lines of C that connect and say hello, run as another user with util-linux's setpriv.
/// </summary>
[Collection("cross-process")]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class KernelHostIdentityTests : ChildProcessTests
{
    private const uint Nobody = 65534;

    // PROTOCOL.md: a frame is a u32 length and the payload; the hello is op 1, Magic "MKRN", Version 2.
    private const string ProbeSource = """
        #include <errno.h>
        #include <stdint.h>
        #include <stdio.h>
        #include <string.h>
        #include <sys/socket.h>
        #include <sys/un.h>
        #include <unistd.h>

        int main(int argc, char **argv) {
            if (argc != 2) return 2;
            int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            struct sockaddr_un a;
            memset(&a, 0, sizeof a);
            a.sun_family = AF_UNIX;
            strncpy(a.sun_path, argv[1], sizeof a.sun_path - 1);
            if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
                printf("connect %d\n", errno);
                return 0;
            }
            uint32_t hello[4] = { 12, 1, 0x4E524B4Du, 2 };
            if (send(fd, hello, sizeof hello, MSG_NOSIGNAL) != (ssize_t)sizeof hello) {
                printf("closed\n");
                return 0;
            }
            char reply[12];
            printf(recv(fd, reply, sizeof reply, MSG_WAITALL) > 0 ? "reply\n" : "closed\n");
            return 0;
        }
        """;

    private static readonly Lazy<string> s_probe = new(CompileProbe);

    private static string CompileProbe()
    {
        // A directory (and binary) another user may execute: temp subdirectories are created 0700.
        DirectoryInfo dir = Directory.CreateTempSubdirectory("machipc-identity");
        File.SetUnixFileMode(dir.FullName, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        string source = Path.Combine(dir.FullName, "hello_probe.c");
        string binary = Path.Combine(dir.FullName, "hello_probe");
        File.WriteAllText(source, ProbeSource);
        string output = Run("cc", "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror", "-o", binary, source);
        Assert.True(File.Exists(binary), "the probe did not compile:\n" + output);
        return binary;
    }

    private static string Run(string program, params string[] args)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(ChildTimeout), program + " did not exit");
        return (stdout + stderr.Result).Trim();
    }

    /// <summary>The probe's verdict when run as <paramref name="uid"/> (null: as this process's user).</summary>
    private static string Probe(string socket, uint? uid) => uid is uint u
        ? Run("setpriv", $"--reuid={u}", $"--regid={u}", "--clear-groups", "--", s_probe.Value, socket)
        : Run(s_probe.Value, socket);

    [Fact]
    public void TheSocketAndItsDirectory_AreTheOwnersOnly_AndTheOwnersProcessesJoin()
    {
        string socket = SimulatedMach.ShareWithChildren();
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(socket));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(socket)!));
        // A same-user process that finds the socket joins as a task of its own (the documented model): the hello
        // is answered. Its task dies with its lifeline when it exits.
        Assert.Equal("reply", Probe(socket, uid: null));
        AssertNoLeaks();
    }

    [Fact]
    public void AnotherUser_IsRefused_EvenWithTheModesOpened()
    {
        string socket = SimulatedMach.ShareWithChildren();
        if (Native.geteuid() != 0)
        {
            // Starting a process as another user takes root (CI runs as root); as anyone else the modes checked
            // above are what a test can see.
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(socket));
            return;
        }
        // The modes alone: another user cannot even connect (EACCES on the 0700 directory).
        Assert.Equal("connect 13", Probe(socket, Nobody));

        string dir = Path.GetDirectoryName(socket)!;
        UnixFileMode dirMode = File.GetUnixFileMode(dir), socketMode = File.GetUnixFileMode(socket);
        int rejected = SimulatedMach.RejectedClients;
        try
        {
            File.SetUnixFileMode(dir, dirMode | UnixFileMode.OtherExecute);
            File.SetUnixFileMode(socket, socketMode | UnixFileMode.OtherRead | UnixFileMode.OtherWrite);
            // Someone opened the modes: the connection succeeds, and the host hangs up before the hello (SO_PEERCRED).
            Assert.Equal("closed", Probe(socket, Nobody));
            Assert.Equal(rejected + 1, SimulatedMach.RejectedClients);
        }
        finally
        {
            File.SetUnixFileMode(dir, dirMode);
            File.SetUnixFileMode(socket, socketMode);
        }
        // The owner's processes are unaffected.
        Assert.Equal("reply", Probe(socket, uid: null));
        AssertNoLeaks();
    }
}
