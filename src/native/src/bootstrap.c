/* bootstrap_check_in / look_up / register: served by the kernel host's bootstrap server. A name travels with
 * its NUL when it has one within name_t's 128 bytes; the server answers a longer one with BOOTSTRAP_BAD_COUNT.
 * Once the host is gone the calls return MACH_SEND_INVALID_DEST, what a MIG call to a dead port returns. */
#define _GNU_SOURCE
#include "host.h"

#include <servers/bootstrap.h>

static kern_return_t bootstrap_call(enum wire_op op, mach_port_t bp, const char *service_name, mach_port_t sp, mach_port_t *sp_out)
{
    struct call c;
    struct reader r;
    if (!call_begin(&c, op)) {
        return MACH_SEND_INVALID_DEST;
    }
    put_u32(&c, bp);
    if (op == OP_BOOTSTRAP_REGISTER) {
        put_u32(&c, sp);
    }
    uint32_t len = 0;
    if (service_name != NULL) {
        while (len < WIRE_NAME_BYTES && service_name[len] != '\0') {
            len++;
        }
        if (len < WIRE_NAME_BYTES) {
            len++; /* with its NUL */
        }
    }
    put_u32(&c, len);
    put_bytes(&c, service_name, len);
    if (!call_transact(&c, &r, -1)) {
        return MACH_SEND_INVALID_DEST;
    }
    kern_return_t rc = (kern_return_t)rd_u32(&r);
    uint32_t port = rd_u32(&r);
    if (!rd_ok(&r)) {
        call_protocol_error(&c, "malformed bootstrap reply");
        return MACH_SEND_INVALID_DEST;
    }
    call_end(&c);
    if (rc == BOOTSTRAP_SUCCESS && sp_out != NULL) {
        *sp_out = port;
    }
    return rc;
}

MACHIPC_EXPORT kern_return_t bootstrap_check_in(mach_port_t bp, const char *service_name, mach_port_t *sp)
{
    return bootstrap_call(OP_BOOTSTRAP_CHECK_IN, bp, service_name, MACH_PORT_NULL, sp);
}

MACHIPC_EXPORT kern_return_t bootstrap_look_up(mach_port_t bp, const char *service_name, mach_port_t *sp)
{
    return bootstrap_call(OP_BOOTSTRAP_LOOK_UP, bp, service_name, MACH_PORT_NULL, sp);
}

MACHIPC_EXPORT kern_return_t bootstrap_register(mach_port_t bp, char *service_name, mach_port_t sp)
{
    return bootstrap_call(OP_BOOTSTRAP_REGISTER, bp, service_name, sp, NULL);
}
