/* Joining a kernel host and talking to it: the lifeline, the connection pool, frames with SCM_RIGHTS, and the
 * fail-fast behaviour once the host is gone. The protocol is src/MachIpc/Kernel/Remote/PROTOCOL.md; the C#
 * client (RemoteKernel.cs) follows the same document. */
#define _GNU_SOURCE
#include "host.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>
#include <mach/mach_init.h>
#include <machipc/libsystem.h>

/* libSystem's data symbols: set when the process joins (mach_init.c's mach_init_doit does this on a Mac). */
MACHIPC_EXPORT mach_port_t mach_task_self_ = MACH_PORT_NULL;
MACHIPC_EXPORT mach_port_t bootstrap_port = MACH_PORT_NULL;

struct conn {
    int fd;
    struct conn *next_idle;
    struct conn *next_all, *prev_all;
    uint8_t *out;
    size_t out_len, out_cap;
    uint8_t *in;
    size_t in_cap;
    int oom;
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER; /* pool, connection list, join state */
static struct conn *g_idle;
static struct conn *g_all;
static char g_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static int g_joined;        /* a path was given (by the environment or machipc_libsystem_join) */
static int g_lifeline = -1; /* the first connection: open for the life of the process, never used after hello */
static atomic_int g_lost;
static atomic_int g_rejoin; /* set in a forked child: join again as the child's own task before the next call */

void host_lose(const char *reason)
{
    int expected = 0;
    if (atomic_compare_exchange_strong(&g_lost, &expected, 1)) {
        fprintf(stderr,
                "machipc: lost the kernel host (%s); Mach calls now fail: sends MACH_SEND_INVALID_DEST, receives "
                "MACH_RCV_PORT_CHANGED, port calls KERN_INVALID_TASK.\n",
                reason);
    }
}

int host_lost(void)
{
    return atomic_load(&g_lost);
}

/* ---- frames ------------------------------------------------------------------------------------------- */

static int send_all(int fd, const uint8_t *p, size_t n, int attach_fd)
{
    size_t off = 0;
    while (off < n) {
        struct iovec iov = { .iov_base = (void *)(p + off), .iov_len = n - off };
        struct msghdr h = { .msg_iov = &iov, .msg_iovlen = 1 };
        union {
            struct cmsghdr align;
            char buf[CMSG_SPACE(sizeof(int))];
        } control;
        if (attach_fd >= 0 && off == 0) {
            memset(&control, 0, sizeof control);
            h.msg_control = control.buf;
            h.msg_controllen = sizeof control.buf;
            struct cmsghdr *cm = CMSG_FIRSTHDR(&h);
            cm->cmsg_level = SOL_SOCKET;
            cm->cmsg_type = SCM_RIGHTS;
            cm->cmsg_len = CMSG_LEN(sizeof(int));
            memcpy(CMSG_DATA(cm), &attach_fd, sizeof(int));
        }
        ssize_t k = sendmsg(fd, &h, MSG_NOSIGNAL);
        if (k < 0) {
            if (errno == EINTR) {
                continue;
            }
            return 0;
        }
        off += (size_t)k;
    }
    return 1;
}

/* Reads one frame's payload into c->in; *fd_out gets a descriptor that rode along (others are closed). */
static int receive_frame(struct conn *c, size_t *len_out, int *fd_out)
{
    size_t have = 0, need = 4, total = 0;
    if (c->in_cap < 4096) {
        uint8_t *grown = realloc(c->in, 4096);
        if (grown == NULL) {
            return 0;
        }
        c->in = grown;
        c->in_cap = 4096;
    }
    while (have < need) {
        struct iovec iov = { .iov_base = c->in + have, .iov_len = c->in_cap - have };
        union {
            struct cmsghdr align;
            char buf[CMSG_SPACE(sizeof(int) * 8)];
        } control;
        struct msghdr h = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf };
        ssize_t k = recvmsg(c->fd, &h, MSG_CMSG_CLOEXEC);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            return 0;
        }
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&h); cm != NULL; cm = CMSG_NXTHDR(&h, cm)) {
            if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
                size_t count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < count; i++) {
                    int fd;
                    memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
                    if (*fd_out < 0) {
                        *fd_out = fd;
                    } else {
                        close(fd);
                    }
                }
            }
        }
        have += (size_t)k;
        if (total == 0 && have >= 4) {
            uint32_t len;
            memcpy(&len, c->in, 4);
            if (len > WIRE_MAX_FRAME) {
                return 0;
            }
            total = 4 + (size_t)len;
            need = total;
            if (c->in_cap < total) {
                uint8_t *grown = realloc(c->in, total);
                if (grown == NULL) {
                    return 0;
                }
                c->in = grown;
                c->in_cap = total;
            }
        }
    }
    /* One request is in flight per connection, so nothing beyond this reply can have arrived. */
    if (have != total) {
        return 0;
    }
    *len_out = total - 4;
    return 1;
}

/* ---- requests ----------------------------------------------------------------------------------------- */

static uint8_t *grow(struct conn *c, size_t n)
{
    if (c->oom) {
        return NULL;
    }
    if (c->out_len + n > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 512;
        while (cap < c->out_len + n) {
            cap *= 2;
        }
        uint8_t *grown = realloc(c->out, cap);
        if (grown == NULL) {
            c->oom = 1;
            return NULL;
        }
        c->out = grown;
        c->out_cap = cap;
    }
    uint8_t *at = c->out + c->out_len;
    c->out_len += n;
    return at;
}

void put_bytes(struct call *c, const void *p, size_t n)
{
    uint8_t *at = grow(c->conn, n);
    if (at != NULL && n > 0) {
        memcpy(at, p, n);
    }
}

void put_u8(struct call *c, uint8_t v) { put_bytes(c, &v, 1); }
void put_u32(struct call *c, uint32_t v) { put_bytes(c, &v, 4); } /* little-endian hosts only (x86-64, arm64) */
void put_u64(struct call *c, uint64_t v) { put_bytes(c, &v, 8); }
uint8_t *put_reserve(struct call *c, size_t n) { return grow(c->conn, n); }
size_t put_mark(struct call *c) { return c->conn->out_len; }
void put_truncate(struct call *c, size_t mark) { c->conn->out_len = mark; }
void put_u32_at(struct call *c, size_t mark, uint32_t v)
{
    if (!c->conn->oom) {
        memcpy(c->conn->out + mark, &v, 4);
    }
}

uint8_t rd_u8(struct reader *r)
{
    const uint8_t *p = rd_take(r, 1);
    return p ? *p : 0;
}

uint32_t rd_u32(struct reader *r)
{
    uint32_t v = 0;
    const uint8_t *p = rd_take(r, 4);
    if (p) {
        memcpy(&v, p, 4);
    }
    return v;
}

uint64_t rd_u64(struct reader *r)
{
    uint64_t v = 0;
    const uint8_t *p = rd_take(r, 8);
    if (p) {
        memcpy(&v, p, 8);
    }
    return v;
}

const uint8_t *rd_take(struct reader *r, size_t n)
{
    if (r->bad || n > r->len - r->pos) {
        r->bad = 1;
        return NULL;
    }
    const uint8_t *p = r->p + r->pos;
    r->pos += n;
    return p;
}

int rd_ok(const struct reader *r)
{
    return !r->bad && r->pos == r->len;
}

/* ---- connections -------------------------------------------------------------------------------------- */

static void conn_free(struct conn *c)
{
    close(c->fd);
    free(c->out);
    free(c->in);
    free(c);
}

/* Connects and says hello; the reply is the task's pid, its name for its own task port and its bootstrap port. */
static struct conn *conn_open(const char *path, uint32_t *self, uint32_t *bootstrap, const char **why)
{
    struct conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        *why = "out of memory";
        return NULL;
    }
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        *why = strerror(errno);
        if (c->fd >= 0) {
            close(c->fd);
        }
        free(c);
        return NULL;
    }
    uint32_t hello[4] = { 12, OP_HELLO, WIRE_MAGIC, WIRE_VERSION };
    size_t len = 0;
    int fd = -1;
    if (!send_all(c->fd, (const uint8_t *)hello, sizeof hello, -1) || !receive_frame(c, &len, &fd)) {
        *why = "the kernel host closed the connection";
        conn_free(c);
        return NULL;
    }
    if (fd >= 0) {
        close(fd);
    }
    struct reader r = { .p = c->in + 4, .len = len };
    rd_u32(&r); /* pid: the kernel's peer credentials of this socket, which getpid() already tells us */
    uint32_t s = rd_u32(&r), b = rd_u32(&r);
    if (!rd_ok(&r)) {
        *why = "the kernel host's hello reply is malformed";
        conn_free(c);
        return NULL;
    }
    *self = s;
    *bootstrap = b;
    return c;
}

/* Under g_lock: joins g_path as a new task (the lifeline), setting the data symbols. */
static int join_locked(void)
{
    const char *why = NULL;
    uint32_t self = 0, bootstrap = 0;
    struct conn *lifeline = conn_open(g_path, &self, &bootstrap, &why);
    if (lifeline == NULL) {
        char reason[sizeof g_path + 128];
        snprintf(reason, sizeof reason, "cannot join the kernel at %s: %s", g_path, why);
        host_lose(reason);
        return -1;
    }
    g_lifeline = lifeline->fd;
    lifeline->fd = -1;
    conn_free(lifeline);
    mach_task_self_ = self;
    bootstrap_port = bootstrap;
    return 0;
}

MACHIPC_EXPORT int machipc_libsystem_join(const char *socket_path)
{
    if (socket_path == NULL || socket_path[0] == '\0' || strlen(socket_path) >= sizeof g_path) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&g_lock);
    int rc;
    if (g_joined) {
        int same = strcmp(g_path, socket_path) == 0;
        rc = same && !host_lost() ? 0 : -1;
        if (rc != 0) {
            errno = same ? ECONNREFUSED : EISCONN;
        }
    } else {
        strcpy(g_path, socket_path);
        g_joined = 1;
        rc = join_locked();
        if (rc != 0) {
            errno = ECONNREFUSED;
        }
    }
    pthread_mutex_unlock(&g_lock);
    return rc;
}

/* A forked child is a new process, so a new task (on a Mac the child gets its own task and mach_task_self_ is
 * reset by libSystem's atfork handler). It must not keep its parent's connections: a copy of the parent's
 * lifeline would keep the parent's task alive after the parent died. The child joins again on its next call. */
static void at_fork_prepare(void) { pthread_mutex_lock(&g_lock); }
static void at_fork_parent(void) { pthread_mutex_unlock(&g_lock); }
static void at_fork_child(void)
{
    while (g_all != NULL) {
        struct conn *c = g_all;
        g_all = c->next_all;
        conn_free(c);
    }
    g_idle = NULL;
    if (g_lifeline >= 0) {
        close(g_lifeline);
        g_lifeline = -1;
    }
    if (g_joined && !host_lost()) {
        atomic_store(&g_rejoin, 1);
    }
    pthread_mutex_unlock(&g_lock);
}

/* Before main(): a process started with MACHIPC_KERNEL_SOCKET joins that host, as libSystem's initialiser sets
 * up mach_task_self_ and bootstrap_port on a Mac. */
__attribute__((constructor)) static void libsystem_initializer(void)
{
    pthread_atfork(at_fork_prepare, at_fork_parent, at_fork_child);
    const char *path = getenv("MACHIPC_KERNEL_SOCKET");
    if (path != NULL && path[0] != '\0') {
        (void)machipc_libsystem_join(path);
    }
}

static struct conn *rent(void)
{
    if (host_lost()) {
        return NULL;
    }
    pthread_mutex_lock(&g_lock);
    if (!g_joined) {
        pthread_mutex_unlock(&g_lock);
        /* Not lost for good: a later machipc_libsystem_join still works. */
        static atomic_int told;
        if (!atomic_exchange(&told, 1)) {
            fprintf(stderr, "machipc: this process has not joined a kernel host (set MACHIPC_KERNEL_SOCKET or call "
                            "machipc_libsystem_join); Mach calls fail until it does.\n");
        }
        return NULL;
    }
    if (atomic_exchange(&g_rejoin, 0) && join_locked() != 0) {
        pthread_mutex_unlock(&g_lock);
        return NULL;
    }
    struct conn *c = g_idle;
    if (c != NULL) {
        g_idle = c->next_idle;
        pthread_mutex_unlock(&g_lock);
        return c;
    }
    char path[sizeof g_path];
    strcpy(path, g_path);
    pthread_mutex_unlock(&g_lock);

    const char *why = NULL;
    uint32_t self, bootstrap;
    c = conn_open(path, &self, &bootstrap, &why);
    if (c == NULL) {
        char reason[sizeof path + 128];
        snprintf(reason, sizeof reason, "cannot reach the kernel host at %s: %s", path, why);
        host_lose(reason);
        return NULL;
    }
    pthread_mutex_lock(&g_lock);
    c->next_all = g_all;
    if (g_all != NULL) {
        g_all->prev_all = c;
    }
    g_all = c;
    pthread_mutex_unlock(&g_lock);
    return c;
}

static void drop(struct conn *c)
{
    pthread_mutex_lock(&g_lock);
    if (c->prev_all != NULL) {
        c->prev_all->next_all = c->next_all;
    } else if (g_all == c) {
        g_all = c->next_all;
    }
    if (c->next_all != NULL) {
        c->next_all->prev_all = c->prev_all;
    }
    pthread_mutex_unlock(&g_lock);
    conn_free(c);
}

int call_begin(struct call *c, enum wire_op op)
{
    c->conn = rent();
    c->sent = 0;
    c->fd = -1;
    if (c->conn == NULL) {
        return 0;
    }
    c->conn->out_len = 0;
    c->conn->oom = 0;
    put_u32(c, 0); /* the frame length, written by call_transact */
    put_u32(c, (uint32_t)op);
    return 1;
}

int call_transact(struct call *c, struct reader *r, int fd)
{
    struct conn *k = c->conn;
    if (k->oom || k->out_len - 4 > WIRE_MAX_FRAME) {
        /* Nothing was sent: the connection is still in step; keep it. */
        call_end(c);
        c->conn = NULL;
        return 0;
    }
    put_u32_at(c, 0, (uint32_t)(k->out_len - 4));
    c->sent = send_all(k->fd, k->out, k->out_len, fd);
    size_t len = 0;
    if (!c->sent || !receive_frame(k, &len, &c->fd)) {
        drop(k);
        c->conn = NULL;
        host_lose("the kernel host closed the connection (it exited or was killed)");
        return 0;
    }
    r->p = k->in + 4;
    r->len = len;
    r->pos = 0;
    r->bad = 0;
    return 1;
}

void call_end(struct call *c)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    if (c->conn == NULL) {
        return;
    }
    pthread_mutex_lock(&g_lock);
    c->conn->next_idle = g_idle;
    g_idle = c->conn;
    pthread_mutex_unlock(&g_lock);
    c->conn = NULL;
}

void call_protocol_error(struct call *c, const char *what)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    if (c->conn != NULL) {
        drop(c->conn);
        c->conn = NULL;
    }
    char reason[160];
    snprintf(reason, sizeof reason, "the kernel host broke the protocol: %s", what);
    host_lose(reason);
}

/* ---- copyin ------------------------------------------------------------------------------------------- */

/* XNU answers an unreadable out-of-line source with MACH_SEND_INVALID_MEMORY; dereferencing it here would crash
 * the process instead, so the bytes are read with process_vm_readv on our own pid, which fails with EFAULT. */
int user_copyin(const void *address, void *destination, size_t n)
{
    static atomic_int unavailable;
    if (n == 0) {
        return 1;
    }
    if (address == NULL || (uintptr_t)address + n < (uintptr_t)address) {
        return 0;
    }
    if (!atomic_load(&unavailable)) {
        struct iovec local = { .iov_base = destination, .iov_len = n };
        struct iovec remote = { .iov_base = (void *)address, .iov_len = n };
        ssize_t k = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
        if (k == (ssize_t)n) {
            return 1;
        }
        if (k >= 0 || errno == EFAULT) {
            return 0;
        }
        atomic_store(&unavailable, 1); /* ENOSYS / EPERM (a sandbox): plain copies from now on */
    }
    memcpy(destination, address, n);
    return 1;
}
