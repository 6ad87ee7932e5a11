/* The client side of the kernel host's socket protocol (src/MachIpc/Kernel/Remote/PROTOCOL.md): framing,
 * the connection pool, joining, and what every call does once the host is gone. Internal to the library. */
#ifndef MACHIPC_NATIVE_HOST_H
#define MACHIPC_NATIVE_HOST_H

#include <stddef.h>
#include <stdint.h>
#include <mach/message.h>

#define MACHIPC_EXPORT __attribute__((visibility("default")))

/* PROTOCOL.md, "Constants". */
#define WIRE_MAGIC 0x4E524B4Du /* "MKRN" */
#define WIRE_VERSION 2u
#define WIRE_MAX_FRAME (64u * 1024 * 1024 + 64 * 1024)
#define WIRE_MAX_MESSAGE_BYTES (64u * 1024 * 1024)
#define WIRE_MAX_PORT_INFO 64u
#define WIRE_NAME_BYTES 128u

/* PROTOCOL.md, "Operations". */
enum wire_op {
    OP_HELLO = 1,
    OP_MSG = 2,
    OP_PORT_ALLOCATE = 3,
    OP_PORT_DEALLOCATE = 4,
    OP_PORT_DESTROY = 5,
    OP_PORT_MOD_REFS = 6,
    OP_PORT_INSERT_RIGHT = 7,
    OP_PORT_EXTRACT_RIGHT = 8,
    OP_PORT_GET_REFS = 9,
    OP_PORT_TYPE = 10,
    OP_PORT_REQUEST_NOTIFICATION = 11,
    OP_PORT_SET_ATTRIBUTES = 12,
    OP_PORT_GET_ATTRIBUTES = 13,
    OP_PORT_INSERT_MEMBER = 14,
    OP_PORT_EXTRACT_MEMBER = 15,
    OP_PORT_MOVE_MEMBER = 16,
    OP_VM_DEALLOCATE = 17,
    OP_TASK_GET_SPECIAL_PORT = 18,
    OP_BOOTSTRAP_CHECK_IN = 19,
    OP_BOOTSTRAP_REGISTER = 20,
    OP_BOOTSTRAP_LOOK_UP = 21,
    OP_FILEPORT_MAKE_PORT = 22,
    OP_FILEPORT_MAKE_FD = 23,
    OP_MSG_DESTROY_OPS = 24, /* not used here: mach_msg_destroy makes libsyscall's individual calls */
    OP_PORT_CONSTRUCT = 25,
    OP_PORT_NAMES = 26,
    OP_PID_FOR_TASK = 27,
};

/* How one out-of-line region of a sent message travels. */
enum wire_region_kind { REGION_DATA = 0, REGION_UNREADABLE = 1, REGION_DATA_FROM_REGION = 2 };

/* A reader over a received frame: past its end every read yields 0 and marks it bad. */
struct reader {
    const uint8_t *p;
    size_t len, pos;
    int bad;
};
uint8_t rd_u8(struct reader *r);
uint32_t rd_u32(struct reader *r);
uint64_t rd_u64(struct reader *r);
const uint8_t *rd_take(struct reader *r, size_t n);
/* 1 if the whole frame was read and nothing was missing. */
int rd_ok(const struct reader *r);

/* One request/reply on a pooled connection. */
struct call {
    struct conn *conn;
    int sent; /* the request was written in full */
    int fd;   /* a descriptor that arrived with the reply (SCM_RIGHTS), or -1 */
};

/* Rents a connection and starts a request; 0 if the host is gone (the call must return its "lost" result). */
int call_begin(struct call *c, enum wire_op op);
void put_u8(struct call *c, uint8_t v);
void put_u32(struct call *c, uint32_t v);
void put_u64(struct call *c, uint64_t v);
void put_bytes(struct call *c, const void *p, size_t n);
/* Reserves n bytes of the request and returns where they are (valid until the next put). */
uint8_t *put_reserve(struct call *c, size_t n);
size_t put_mark(struct call *c);
void put_truncate(struct call *c, size_t mark);
void put_u32_at(struct call *c, size_t mark, uint32_t v);
/* Sends the request (with fd attached when >= 0) and reads the reply into r; 0 if the host is gone. */
int call_transact(struct call *c, struct reader *r, int fd);
/* Returns the connection to the pool (it must have been transacted and its reply fully read). */
void call_end(struct call *c);
/* The host answered with bytes that break the protocol: drops the connection and loses the host. */
void call_protocol_error(struct call *c, const char *what);

/* Marks the host lost (once; one line to stderr). */
void host_lose(const char *reason);
int host_lost(void);

/* Copies n bytes from a caller's address that may not be readable; 0 if it is not (MACH_SEND_INVALID_MEMORY). */
int user_copyin(const void *address, void *destination, size_t n);

/* Out-of-line regions the kernel handed this task: local copy -> the host's address (regions.c). */
void *region_adopt(uint64_t host, const uint8_t *bytes, size_t len);
/* If local is an adopted region: its host address and size; the mapping is kept. */
int region_lookup(uint64_t local, uint64_t *host, uint64_t *size);
/* If local is an adopted region: forgets and unmaps it, returning its host address and size. */
int region_release(uint64_t local, uint64_t *host, uint64_t *size);

#endif
