/* The mach_port_* calls, task_get_special_port and pid_for_task: one request each to the kernel host, which
 * performs the call in this process's task. As MIG's user stubs do, out-parameters are written only when the
 * call succeeds; once the host is gone every call returns KERN_INVALID_TASK (pid_for_task: KERN_FAILURE, -1). */
#define _GNU_SOURCE
#include "host.h"

#include <mach/mach_port.h>
#include <mach/mach_traps.h>
#include <mach/task.h>

/* A call with up to six u32 arguments whose reply is a return code and `outs` u32 values. */
static kern_return_t simple(enum wire_op op, const uint32_t *args, int nargs, uint32_t *outs, int nouts)
{
    struct call c;
    struct reader r;
    if (!call_begin(&c, op)) {
        return KERN_INVALID_TASK;
    }
    for (int i = 0; i < nargs; i++) {
        put_u32(&c, args[i]);
    }
    if (!call_transact(&c, &r, -1)) {
        return KERN_INVALID_TASK;
    }
    kern_return_t kr = (kern_return_t)rd_u32(&r);
    uint32_t values[2] = { 0, 0 };
    for (int i = 0; i < nouts; i++) {
        values[i] = rd_u32(&r);
    }
    if (!rd_ok(&r)) {
        call_protocol_error(&c, "malformed reply");
        return KERN_INVALID_TASK;
    }
    call_end(&c);
    for (int i = 0; i < nouts; i++) {
        outs[i] = values[i];
    }
    return kr;
}

#define ARGS(...) (const uint32_t[]){ __VA_ARGS__ }, (int)(sizeof((const uint32_t[]){ __VA_ARGS__ }) / sizeof(uint32_t))

MACHIPC_EXPORT kern_return_t mach_port_allocate(ipc_space_t task, mach_port_right_t right, mach_port_name_t *name)
{
    uint32_t out[1];
    kern_return_t kr = simple(OP_PORT_ALLOCATE, ARGS(task, right), out, 1);
    if (kr == KERN_SUCCESS && name != NULL) {
        *name = out[0];
    }
    return kr;
}

MACHIPC_EXPORT kern_return_t mach_port_construct(ipc_space_t task, mach_port_options_ptr_t options, mach_port_context_t context,
                                                 mach_port_name_t *name)
{
    if (options == NULL) {
        return KERN_INVALID_ARGUMENT;
    }
    struct call c;
    struct reader r;
    if (!call_begin(&c, OP_PORT_CONSTRUCT)) {
        return KERN_INVALID_TASK;
    }
    put_u32(&c, task);
    put_u32(&c, options->flags);
    put_u32(&c, options->mpl.mpl_qlimit);
    put_u64(&c, options->reserved[0]);
    put_u64(&c, options->reserved[1]);
    put_u64(&c, context);
    if (!call_transact(&c, &r, -1)) {
        return KERN_INVALID_TASK;
    }
    kern_return_t kr = (kern_return_t)rd_u32(&r);
    uint32_t value = rd_u32(&r);
    if (!rd_ok(&r)) {
        call_protocol_error(&c, "malformed mach_port_construct reply");
        return KERN_INVALID_TASK;
    }
    call_end(&c);
    if (kr == KERN_SUCCESS && name != NULL) {
        *name = value;
    }
    return kr;
}

/* The two arrays are regions the kernel gave this task (vm_deallocate them, count * 4 bytes each). */
MACHIPC_EXPORT kern_return_t mach_port_names(ipc_space_t task, mach_port_name_array_t *names, mach_msg_type_number_t *namesCnt,
                                             mach_port_type_array_t *types, mach_msg_type_number_t *typesCnt)
{
    struct call c;
    struct reader r;
    if (!call_begin(&c, OP_PORT_NAMES)) {
        return KERN_INVALID_TASK;
    }
    put_u32(&c, task);
    if (!call_transact(&c, &r, -1)) {
        return KERN_INVALID_TASK;
    }
    kern_return_t kr = (kern_return_t)rd_u32(&r);
    if (kr != KERN_SUCCESS) {
        if (!rd_ok(&r)) {
            call_protocol_error(&c, "malformed mach_port_names reply");
            return KERN_INVALID_TASK;
        }
        call_end(&c);
        return kr;
    }
    uint32_t count = rd_u32(&r);
    uint64_t host_names = rd_u64(&r), host_types = rd_u64(&r);
    const uint8_t *name_bytes = count <= WIRE_MAX_MESSAGE_BYTES / 4 ? rd_take(&r, (size_t)count * 4) : NULL;
    const uint8_t *type_bytes = name_bytes != NULL ? rd_take(&r, (size_t)count * 4) : NULL;
    if (type_bytes == NULL || !rd_ok(&r)) {
        call_protocol_error(&c, "malformed mach_port_names reply");
        return KERN_INVALID_TASK;
    }
    mach_port_name_t *local_names = region_adopt(host_names, name_bytes, (size_t)count * 4);
    mach_port_type_t *local_types = region_adopt(host_types, type_bytes, (size_t)count * 4);
    call_end(&c);
    if (names != NULL) {
        *names = local_names;
    }
    if (namesCnt != NULL) {
        *namesCnt = count;
    }
    if (types != NULL) {
        *types = local_types;
    }
    if (typesCnt != NULL) {
        *typesCnt = count;
    }
    return kr;
}

MACHIPC_EXPORT kern_return_t mach_port_type(ipc_space_t task, mach_port_name_t name, mach_port_type_t *ptype)
{
    uint32_t out[1];
    kern_return_t kr = simple(OP_PORT_TYPE, ARGS(task, name), out, 1);
    if (kr == KERN_SUCCESS && ptype != NULL) {
        *ptype = out[0];
    }
    return kr;
}

MACHIPC_EXPORT kern_return_t mach_port_destroy(ipc_space_t task, mach_port_name_t name)
{
    return simple(OP_PORT_DESTROY, ARGS(task, name), NULL, 0);
}

MACHIPC_EXPORT kern_return_t mach_port_deallocate(ipc_space_t task, mach_port_name_t name)
{
    return simple(OP_PORT_DEALLOCATE, ARGS(task, name), NULL, 0);
}

MACHIPC_EXPORT kern_return_t mach_port_get_refs(ipc_space_t task, mach_port_name_t name, mach_port_right_t right,
                                                mach_port_urefs_t *refs)
{
    uint32_t out[1];
    kern_return_t kr = simple(OP_PORT_GET_REFS, ARGS(task, name, right), out, 1);
    if (kr == KERN_SUCCESS && refs != NULL) {
        *refs = out[0];
    }
    return kr;
}

MACHIPC_EXPORT kern_return_t mach_port_mod_refs(ipc_space_t task, mach_port_name_t name, mach_port_right_t right,
                                                mach_port_delta_t delta)
{
    return simple(OP_PORT_MOD_REFS, ARGS(task, name, right, (uint32_t)delta), NULL, 0);
}

MACHIPC_EXPORT kern_return_t mach_port_move_member(ipc_space_t task, mach_port_name_t member, mach_port_name_t after)
{
    return simple(OP_PORT_MOVE_MEMBER, ARGS(task, member, after), NULL, 0);
}

MACHIPC_EXPORT kern_return_t mach_port_insert_member(ipc_space_t task, mach_port_name_t name, mach_port_name_t pset)
{
    return simple(OP_PORT_INSERT_MEMBER, ARGS(task, name, pset), NULL, 0);
}

MACHIPC_EXPORT kern_return_t mach_port_extract_member(ipc_space_t task, mach_port_name_t name, mach_port_name_t pset)
{
    return simple(OP_PORT_EXTRACT_MEMBER, ARGS(task, name, pset), NULL, 0);
}

MACHIPC_EXPORT kern_return_t mach_port_request_notification(ipc_space_t task, mach_port_name_t name, mach_msg_id_t msgid,
                                                            mach_port_mscount_t sync, mach_port_t notify,
                                                            mach_msg_type_name_t notifyPoly, mach_port_t *previous)
{
    uint32_t out[1];
    kern_return_t kr = simple(OP_PORT_REQUEST_NOTIFICATION, ARGS(task, name, (uint32_t)msgid, sync, notify, notifyPoly), out, 1);
    if (kr == KERN_SUCCESS && previous != NULL) {
        *previous = out[0];
    }
    return kr;
}

MACHIPC_EXPORT kern_return_t mach_port_insert_right(ipc_space_t task, mach_port_name_t name, mach_port_t poly,
                                                    mach_msg_type_name_t polyPoly)
{
    return simple(OP_PORT_INSERT_RIGHT, ARGS(task, name, poly, polyPoly), NULL, 0);
}

MACHIPC_EXPORT kern_return_t mach_port_extract_right(ipc_space_t task, mach_port_name_t name, mach_msg_type_name_t msgt_name,
                                                     mach_port_t *poly, mach_msg_type_name_t *polyPoly)
{
    uint32_t out[2];
    kern_return_t kr = simple(OP_PORT_EXTRACT_RIGHT, ARGS(task, name, msgt_name), out, 2);
    if (kr == KERN_SUCCESS) {
        if (poly != NULL) {
            *poly = out[0];
        }
        if (polyPoly != NULL) {
            *polyPoly = out[1];
        }
    }
    return kr;
}

MACHIPC_EXPORT kern_return_t mach_port_get_attributes(ipc_space_t task, mach_port_name_t name, mach_port_flavor_t flavor,
                                                      mach_port_info_t port_info_out, mach_msg_type_number_t *port_info_outCnt)
{
    if (port_info_out == NULL || port_info_outCnt == NULL) {
        return KERN_INVALID_ARGUMENT;
    }
    uint32_t n = *port_info_outCnt < WIRE_MAX_PORT_INFO ? *port_info_outCnt : WIRE_MAX_PORT_INFO;
    struct call c;
    struct reader r;
    if (!call_begin(&c, OP_PORT_GET_ATTRIBUTES)) {
        return KERN_INVALID_TASK;
    }
    put_u32(&c, task);
    put_u32(&c, name);
    put_u32(&c, (uint32_t)flavor);
    put_u32(&c, n);
    if (!call_transact(&c, &r, -1)) {
        return KERN_INVALID_TASK;
    }
    kern_return_t kr = (kern_return_t)rd_u32(&r);
    uint32_t count = rd_u32(&r);
    integer_t values[WIRE_MAX_PORT_INFO];
    for (uint32_t i = 0; i < count && i < WIRE_MAX_PORT_INFO; i++) {
        values[i] = (integer_t)rd_u32(&r);
    }
    if (count > n || !rd_ok(&r)) {
        call_protocol_error(&c, "malformed mach_port_get_attributes reply");
        return KERN_INVALID_TASK;
    }
    call_end(&c);
    if (kr == KERN_SUCCESS) {
        for (uint32_t i = 0; i < count; i++) {
            port_info_out[i] = values[i];
        }
        *port_info_outCnt = count;
    }
    return kr;
}

MACHIPC_EXPORT kern_return_t mach_port_set_attributes(ipc_space_t task, mach_port_name_t name, mach_port_flavor_t flavor,
                                                      mach_port_info_t port_info, mach_msg_type_number_t port_infoCnt)
{
    uint32_t n = port_info == NULL ? 0 : port_infoCnt < WIRE_MAX_PORT_INFO ? port_infoCnt : WIRE_MAX_PORT_INFO;
    struct call c;
    struct reader r;
    if (!call_begin(&c, OP_PORT_SET_ATTRIBUTES)) {
        return KERN_INVALID_TASK;
    }
    put_u32(&c, task);
    put_u32(&c, name);
    put_u32(&c, (uint32_t)flavor);
    put_u32(&c, n);
    for (uint32_t i = 0; i < n; i++) {
        put_u32(&c, (uint32_t)port_info[i]);
    }
    if (!call_transact(&c, &r, -1)) {
        return KERN_INVALID_TASK;
    }
    kern_return_t kr = (kern_return_t)rd_u32(&r);
    if (!rd_ok(&r)) {
        call_protocol_error(&c, "malformed mach_port_set_attributes reply");
        return KERN_INVALID_TASK;
    }
    call_end(&c);
    return kr;
}

MACHIPC_EXPORT kern_return_t task_get_special_port(task_inspect_t task, int which_port, mach_port_t *special_port)
{
    uint32_t out[1];
    kern_return_t kr = simple(OP_TASK_GET_SPECIAL_PORT, ARGS(task, (uint32_t)which_port), out, 1);
    if (kr == KERN_SUCCESS && special_port != NULL) {
        *special_port = out[0];
    }
    return kr;
}

/* bsd/kern/kern_proc.c pid_for_task: *x is always written, -1 on failure (KERN_FAILURE without a host). */
MACHIPC_EXPORT kern_return_t pid_for_task(mach_port_name_t t, int *x)
{
    kern_return_t kr = KERN_FAILURE;
    int pid = -1;
    struct call c;
    struct reader r;
    if (call_begin(&c, OP_PID_FOR_TASK)) {
        put_u32(&c, t);
        if (call_transact(&c, &r, -1)) {
            kern_return_t answer = (kern_return_t)rd_u32(&r);
            int value = (int)rd_u32(&r);
            if (rd_ok(&r)) {
                call_end(&c);
                kr = answer;
                pid = value;
            } else {
                call_protocol_error(&c, "malformed pid_for_task reply");
            }
        }
    }
    if (x != NULL) {
        *x = pid;
    }
    return kr;
}
