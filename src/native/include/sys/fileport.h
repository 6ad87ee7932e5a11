/* MachIpc's libSystem for Linux: file descriptors as Mach ports. */
#ifndef MACHIPC_SYS_FILEPORT_H
#define MACHIPC_SYS_FILEPORT_H

#include <mach/port.h>

typedef mach_port_t fileport_t;

#ifdef __cplusplus
extern "C" {
#endif

/* 0, or -1 with errno set. */
int fileport_makeport(int fd, fileport_t *port);
/* A new descriptor (close-on-exec), or -1 with errno set. */
int fileport_makefd(fileport_t port);

#ifdef __cplusplus
}
#endif

#endif
