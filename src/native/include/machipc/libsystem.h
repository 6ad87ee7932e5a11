/* MachIpc's libSystem for Linux: how a process joins a kernel host.
 *
 * The library implements libSystem's Mach calls as requests to a MachIpc kernel host over a Unix-domain socket
 * (src/MachIpc/Kernel/Remote/PROTOCOL.md). A C program started with MACHIPC_KERNEL_SOCKET=<path> in its
 * environment joins that host before main() runs, as a Mac program finds its bootstrap port set up by
 * libSystem's initialiser; mach_task_self_ and bootstrap_port are then set. A process whose environment the
 * library cannot see (a .NET process that set the variable with Environment.SetEnvironmentVariable) calls
 * machipc_libsystem_join itself. This is the library's one export that libSystem does not have. */
#ifndef MACHIPC_LIBSYSTEM_H
#define MACHIPC_LIBSYSTEM_H

#ifdef __cplusplus
extern "C" {
#endif

/* Joins the kernel host listening at socket_path: 0 on success or when already joined to that path; -1 with
 * errno set otherwise (EISCONN: joined to another host; ECONNREFUSED etc.: the host could not be reached, and
 * every Mach call then fails as it does after the host died). */
int machipc_libsystem_join(const char *socket_path);

#ifdef __cplusplus
}
#endif

#endif
