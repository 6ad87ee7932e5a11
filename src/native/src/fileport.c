/* fileport_makeport / fileport_makefd: the descriptor itself crosses the socket (SCM_RIGHTS), so the port
 * stands for this open file description, as a fileport does on a Mac. Once the host is gone: -1, errno EPIPE. */
#define _GNU_SOURCE
#include "host.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/fileport.h>

MACHIPC_EXPORT int fileport_makeport(int fd, fileport_t *port)
{
    if (fd < 0 || fcntl(fd, F_GETFD) < 0) {
        errno = EBADF;
        return -1;
    }
    if (port == NULL) {
        errno = EFAULT;
        return -1;
    }
    struct call c;
    struct reader r;
    if (!call_begin(&c, OP_FILEPORT_MAKE_PORT) || !call_transact(&c, &r, fd)) {
        errno = EPIPE;
        return -1;
    }
    int rc = (int)rd_u32(&r);
    int err = (int)rd_u32(&r);
    uint32_t name = rd_u32(&r);
    if (!rd_ok(&r)) {
        call_protocol_error(&c, "malformed fileport_makeport reply");
        errno = EPIPE;
        return -1;
    }
    call_end(&c);
    if (rc < 0) {
        errno = err;
        return -1;
    }
    *port = name;
    return 0;
}

MACHIPC_EXPORT int fileport_makefd(fileport_t port)
{
    struct call c;
    struct reader r;
    if (!call_begin(&c, OP_FILEPORT_MAKE_FD)) {
        errno = EPIPE;
        return -1;
    }
    put_u32(&c, port);
    if (!call_transact(&c, &r, -1)) {
        errno = EPIPE;
        return -1;
    }
    int rc = (int)rd_u32(&r);
    int err = (int)rd_u32(&r);
    if (!rd_ok(&r)) {
        call_protocol_error(&c, "malformed fileport_makefd reply");
        errno = EPIPE;
        return -1;
    }
    int fd = c.fd; /* arrived with MSG_CMSG_CLOEXEC */
    c.fd = -1;
    call_end(&c);
    if (rc < 0) {
        if (fd >= 0) {
            close(fd);
        }
        errno = err;
        return -1;
    }
    if (fd < 0) {
        errno = EMFILE; /* the descriptor could not be received */
        return -1;
    }
    return fd;
}
