using System.Text;
using MachIpc.Abi;
using MachIpc.Bootstrap;
using MachIpc.Messages;
using MachIpc.Kernel;
using MachIpc.Ports;
using Microsoft.Win32.SafeHandles;
using Xunit;

namespace MachIpc.Behaviour;

/// <summary>File descriptors as Mach ports.</summary>
public sealed unsafe class FileportTests : BehaviourTest
{
    private static (string Path, SafeFileHandle Handle) TempFile(string content)
    {
        string path = Path.GetTempFileName();
        File.WriteAllText(path, content);
        return (path, File.OpenHandle(path, FileMode.Open, FileAccess.Read));
    }

    private static string ReadAll(int fd)
    {
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        var buffer = new byte[256];
        int n = RandomAccess.Read(handle, buffer, 0);
        return Encoding.UTF8.GetString(buffer, 0, n);
    }

    [Fact]
    public void MakeFd_GivesANewDescriptorForTheSameFile_EachTime_WhileThePortLives()
    {
        var (path, handle) = TempFile("kept open by its fileport");
        SendRight port;
        using (handle)
        {
            port = Fileport.MakePort(handle);
        }
        File.Delete(path);
        using (port)
        {
            int a = Fileport.MakeFd(port), b = Fileport.MakeFd(port);
            Assert.NotEqual(a, b);
            Assert.Equal("kept open by its fileport", ReadAll(a));
            Assert.Equal("kept open by its fileport", ReadAll(b));
        }
    }

    [Fact]
    public void MakePort_OfAClosedDescriptor_IsEbadf()
    {
        var (path, handle) = TempFile("x");
        int fd = (int)handle.DangerousGetHandle();
        handle.Dispose();
        File.Delete(path);
        uint port;
        Assert.Equal(-1, Mach.FileportMakePort(fd, &port));
        Assert.Equal(9, Mach.LastErrno); // EBADF
    }

    [Fact]
    public void AFileportSentToAnotherProcess_OpensTheSameFileThere()
    {
        string inbox = UniqueName("fileport.inbox");
        var child = StartPeer("read-file", inbox);
        Assert.Equal("ready", ReadLine(child));
        var (path, handle) = TempFile("hello over a fileport");
        SendRight port;
        using (handle)
        {
            port = Fileport.MakePort(handle);
        }
        File.Delete(path);
        using (SendRight toChild = BootstrapServer.LookUp(inbox))
        {
            var message = new FileAttachment();
            message.Prepare(toChild.Name);
            message.Fileport.Name = port.TakeName();
            Assert.Equal(MachMsgReturn.Success, message.Send());
        }
        Assert.Equal("text hello over a fileport", Finish(child));
    }
}
