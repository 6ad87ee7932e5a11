/* mach_msg and mach_msg_destroy. The kernel part of mach_msg (the trap) is one Msg request to the kernel host;
 * the user-space parts are libsyscall's (xnu-11417.101.15 libsyscall/mach/mach_msg.c), done here as there. */
#define _GNU_SOURCE
#include "host.h"

#include <stdlib.h>
#include <string.h>
#include <mach/mach_init.h>
#include <mach/mach_port.h>
#include <mach/mach_vm.h>

/* libsyscall/mach/mach_msg.c:72 LIBMACH_OPTIONS: the interrupt options are libsyscall's, never the kernel's. */
#define LIBMACH_OPTIONS (MACH_SEND_INTERRUPT | MACH_RCV_INTERRUPT)

/* PROTOCOL.md "Msg": how much of the caller's buffer travels with the request. */
static uint32_t prefix_length(mach_msg_option_t option, uint32_t send_size, uint32_t rcv_size)
{
    uint32_t rcv = (option & MACH_RCV_MSG) ? (rcv_size < sizeof(mach_msg_header_t) + MAX_TRAILER_SIZE
                                                  ? rcv_size : (uint32_t)(sizeof(mach_msg_header_t) + MAX_TRAILER_SIZE))
                                            : 0;
    uint32_t send = (option & MACH_SEND_MSG) ? send_size : 0;
    return send > rcv ? send : rcv;
}

static mach_msg_return_t lost_result(mach_msg_option_t option, int sent)
{
    return (option & MACH_SEND_MSG) && (!sent || !(option & MACH_RCV_MSG)) ? MACH_SEND_INVALID_DEST : MACH_RCV_PORT_CHANGED;
}

struct dealloc_list {
    uint64_t *local, *host;
    size_t count, cap;
};

static void dealloc_add(struct dealloc_list *d, uint64_t local, uint64_t host)
{
    if (d->count == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 4;
        uint64_t *l = realloc(d->local, cap * sizeof *l);
        if (l == NULL) {
            return;
        }
        d->local = l;
        uint64_t *h = realloc(d->host, cap * sizeof *h);
        if (h == NULL) {
            return;
        }
        d->host = h;
        d->cap = cap;
    }
    d->local[d->count] = local;
    d->host[d->count] = host;
    d->count++;
}

static uint32_t load32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t load64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* PROTOCOL.md "Out-of-line regions of a sent message": the descriptor walk copyin does; one region entry per
 * OOL / OOL-volatile / OOL-ports descriptor it reaches. */
static void put_regions(struct call *c, const uint8_t *buf, uint32_t send_size, struct dealloc_list *deallocs)
{
    size_t count_at = put_mark(c);
    put_u32(c, 0);
    uint32_t regions = 0;
    const mach_msg_header_t *h = (const mach_msg_header_t *)buf;
    if (send_size >= sizeof(mach_msg_base_t) && (h->msgh_bits & MACH_MSGH_BITS_COMPLEX)) {
        uint32_t count = load32(buf + sizeof(mach_msg_header_t));
        uint32_t off = sizeof(mach_msg_base_t);
        for (uint32_t i = 0; i < count && off + 12 <= send_size; i++) {
            uint8_t type = buf[off + 11];
            if (type == MACH_MSG_PORT_DESCRIPTOR) {
                off += 12;
                continue;
            }
            if (type > MACH_MSG_GUARDED_PORT_DESCRIPTOR || off + 16 > send_size) {
                break; /* copyin rejects the message before reading any out-of-line memory */
            }
            if (type == MACH_MSG_OOL_DESCRIPTOR || type == MACH_MSG_OOL_VOLATILE_DESCRIPTOR || type == MACH_MSG_OOL_PORTS_DESCRIPTOR) {
                uint64_t len = type == MACH_MSG_OOL_PORTS_DESCRIPTOR ? (uint64_t)load32(buf + off + 12) * 4 : load32(buf + off + 12);
                uint64_t addr = load64(buf + off);
                regions++;
                size_t mark = put_mark(c);
                if (len > WIRE_MAX_MESSAGE_BYTES) {
                    put_u8(c, REGION_UNREADABLE);
                } else {
                    /* deallocate = TRUE on a region this task received: copyin frees the host's region too. */
                    uint64_t host = 0, host_size = 0;
                    if (buf[off + 8] != 0 && len > 0 && !region_lookup(addr, &host, &host_size)) {
                        host = 0;
                    }
                    put_u8(c, host != 0 ? REGION_DATA_FROM_REGION : REGION_DATA);
                    put_u32(c, (uint32_t)len);
                    uint8_t *at = put_reserve(c, (size_t)len);
                    if (at == NULL || !user_copyin((const void *)(uintptr_t)addr, at, (size_t)len)) {
                        put_truncate(c, mark);
                        put_u8(c, REGION_UNREADABLE);
                    } else if (host != 0) {
                        put_u64(c, host);
                        dealloc_add(deallocs, addr, host);
                    }
                }
            }
            off += 16;
        }
    }
    put_u32_at(c, count_at, regions);
}

/* The trap: one Msg request; the reply carries what the kernel wrote into the buffer and the out-of-line
 * regions it mapped into this task. */
static mach_msg_return_t msg_trap(mach_msg_header_t *msg, mach_msg_option_t option, uint32_t send_size,
                                  uint32_t rcv_size, uint32_t rcv_name, uint32_t timeout, uint32_t notify)
{
    int send = (option & MACH_SEND_MSG) != 0, rcv = (option & MACH_RCV_MSG) != 0;
    if ((send && send_size > WIRE_MAX_MESSAGE_BYTES) || (rcv && rcv_size > WIRE_MAX_MESSAGE_BYTES)) {
        return send ? MACH_SEND_TOO_LARGE : MACH_RCV_INVALID_DATA; /* past what the socket carries */
    }
    struct call c;
    struct reader r;
    if (!call_begin(&c, OP_MSG)) {
        return lost_result(option, 0);
    }
    put_u32(&c, (uint32_t)option);
    put_u32(&c, send_size);
    put_u32(&c, rcv_size);
    put_u32(&c, rcv_name);
    put_u32(&c, timeout);
    put_u32(&c, notify);
    put_u32(&c, msg == NULL ? 1u : 0u);
    uint32_t prefix = prefix_length(option, send_size, rcv_size);
    uint8_t *buf = (uint8_t *)msg;
    struct dealloc_list deallocs = { 0 };
    if (buf != NULL) {
        put_bytes(&c, buf, prefix);
        if (send) {
            put_regions(&c, buf, send_size, &deallocs);
        }
    }
    mach_msg_return_t mr;
    if (!call_transact(&c, &r, -1)) {
        mr = lost_result(option, c.sent);
        goto out;
    }
    mr = (mach_msg_return_t)rd_u32(&r);
    uint32_t writeback = rd_u32(&r);
    uint32_t buf_len = prefix;
    if (send && send_size > buf_len) {
        buf_len = send_size;
    }
    if (rcv && rcv_size > buf_len) {
        buf_len = rcv_size;
    }
    const uint8_t *bytes = rd_take(&r, writeback);
    if (bytes == NULL || writeback > buf_len || (buf == NULL && writeback != 0)) {
        call_protocol_error(&c, "write-back larger than the buffer");
        mr = lost_result(option, 1);
        goto out;
    }
    if (writeback > 0) {
        memcpy(buf, bytes, writeback);
    }
    uint32_t regions = rd_u32(&r);
    for (uint32_t i = 0; i < regions && !r.bad; i++) {
        uint32_t off = rd_u32(&r);
        uint64_t host = rd_u64(&r);
        uint32_t len = rd_u32(&r);
        const uint8_t *data = rd_take(&r, len);
        if (data == NULL || (uint64_t)off + 8 > writeback) {
            r.bad = 1;
            break;
        }
        uint64_t local = (uint64_t)(uintptr_t)region_adopt(host, data, len);
        memcpy(buf + off, &local, 8);
    }
    /* Regions copyin deallocated (deallocate = TRUE on memory this task had received): free our copies too. */
    uint32_t consumed = rd_u32(&r);
    for (uint32_t i = 0; i < consumed && !r.bad; i++) {
        uint64_t host = rd_u64(&r);
        for (size_t k = 0; k < deallocs.count; k++) {
            uint64_t h, size;
            if (deallocs.host[k] == host && region_release(deallocs.local[k], &h, &size)) {
                break;
            }
        }
    }
    if (!rd_ok(&r)) {
        call_protocol_error(&c, "malformed mach_msg reply");
        mr = lost_result(option, 1);
        goto out;
    }
    call_end(&c);
out:
    free(deallocs.local);
    free(deallocs.host);
    return mr;
}

/* libsyscall/mach/mach_msg.c:75 mach_msg_options_after_interruption. */
static mach_msg_option_t options_after_interruption(mach_msg_option_t option)
{
    if ((option & MACH_SEND_MSG) && (option & MACH_RCV_MSG)) {
        option &= ~MACH_RCV_SYNC_WAIT;
    }
    option &= ~(LIBMACH_OPTIONS | MACH_SEND_MSG);
    return option;
}

/* libsyscall/mach/mach_msg.c:159 mach_msg -> mach_msg_overwrite (:189) -> mach_msg2_internal (:93). */
MACHIPC_EXPORT mach_msg_return_t mach_msg(mach_msg_header_t *msg, mach_msg_option_t option, mach_msg_size_t send_size,
                                          mach_msg_size_t rcv_size, mach_port_name_t rcv_name,
                                          mach_msg_timeout_t timeout, mach_port_name_t notify)
{
    /* :281-285: a receive-only MACH_RCV_SYNC_WAIT names the port it waits on through notify. */
    if ((option & MACH_RCV_MSG) && !(option & MACH_SEND_MSG) && (option & MACH_RCV_SYNC_WAIT) && msg != NULL) {
        msg->msgh_remote_port = notify;
    }
    /* :106-107: the trap never sees the interrupt options. */
    mach_msg_return_t mr = msg_trap(msg, option & ~LIBMACH_OPTIONS, send_size, rcv_size, rcv_name, timeout, notify);
    if (mr == MACH_MSG_SUCCESS) {
        return MACH_MSG_SUCCESS;
    }
    /* :120-131: an interrupted send is restarted as it was, unless the caller asked to see the interruption. */
    if ((option & MACH_SEND_INTERRUPT) == 0) {
        while (mr == MACH_SEND_INTERRUPTED) {
            mr = msg_trap(msg, option & ~LIBMACH_OPTIONS, send_size, rcv_size, rcv_name, timeout, notify);
        }
    }
    /* :133-144: an interrupted receive is restarted as a receive only (the send, if any, happened). */
    if ((option & MACH_RCV_INTERRUPT) == 0) {
        while (mr == MACH_RCV_INTERRUPTED) {
            mr = msg_trap(msg, options_after_interruption(option), 0, rcv_size, rcv_name, timeout, notify);
        }
    }
    return mr;
}

/* libsyscall/mach/mach_msg.c:331 mach_msg_destroy_port: the right is released by the type the message carries. */
static void destroy_port(mach_port_t port, mach_msg_type_name_t type)
{
    if (!MACH_PORT_VALID(port)) {
        return;
    }
    switch (type) {
    case MACH_MSG_TYPE_MOVE_SEND:
    case MACH_MSG_TYPE_MOVE_SEND_ONCE:
        (void)mach_port_deallocate(mach_task_self_, port);
        break;
    case MACH_MSG_TYPE_MOVE_RECEIVE:
        (void)mach_port_mod_refs(mach_task_self_, port, MACH_PORT_RIGHT_RECEIVE, -1);
        break;
    case MACH_MSG_TYPE_MAKE_SEND:
        (void)mach_port_insert_right(mach_task_self_, port, port, MACH_MSG_TYPE_MAKE_SEND);
        (void)mach_port_deallocate(mach_task_self_, port);
        break;
    case MACH_MSG_TYPE_MAKE_SEND_ONCE:
        (void)mach_port_extract_right(mach_task_self_, port, MACH_MSG_TYPE_MAKE_SEND_ONCE, &port, &type);
        (void)mach_port_deallocate(mach_task_self_, port);
        break;
    default:
        break;
    }
}

/* libsyscall/mach/mach_msg.c:366 mach_msg_destroy_memory (vm_deallocate of the task's own map). */
static void destroy_memory(uint64_t addr, uint64_t size)
{
    if (size != 0) {
        (void)mach_vm_deallocate(mach_task_self_, addr, size);
    }
}

/* libsyscall/mach/mach_msg.c:391 mach_msg_destroy: remote and voucher rights by their types (:401-402), never
 * msgh_local_port (:396-399); out-of-line memory only when the descriptor's deallocate is set (:434, :470);
 * volatile regions skipped (:442-451); OOL port arrays destroyed name by name (:463-465). The walk trusts
 * msgh_descriptor_count, as libsyscall does; an unknown descriptor type stops nothing but matches no case, so
 * the remaining iterations re-read the same descriptor and do nothing (:413-494). */
MACHIPC_EXPORT void mach_msg_destroy(mach_msg_header_t *msg)
{
    mach_msg_bits_t mbits = msg->msgh_bits;
    destroy_port(msg->msgh_remote_port, MACH_MSGH_BITS_REMOTE(mbits));
    destroy_port(msg->msgh_voucher_port, MACH_MSGH_BITS_VOUCHER(mbits));
    if (!(mbits & MACH_MSGH_BITS_COMPLEX)) {
        return;
    }
    mach_msg_base_t *base = (mach_msg_base_t *)msg;
    mach_msg_type_number_t count = base->body.msgh_descriptor_count;
    uint8_t *daddr = (uint8_t *)(base + 1);
    for (mach_msg_type_number_t i = 0; i < count; i++) {
        switch (((mach_msg_type_descriptor_t *)daddr)->type) {
        case MACH_MSG_PORT_DESCRIPTOR: {
            mach_msg_port_descriptor_t *dsc = (mach_msg_port_descriptor_t *)daddr;
            destroy_port(dsc->name, dsc->disposition);
            daddr += sizeof *dsc;
            break;
        }
        case MACH_MSG_OOL_DESCRIPTOR: {
            mach_msg_ool_descriptor_t *dsc = (mach_msg_ool_descriptor_t *)daddr;
            if (dsc->deallocate) {
                destroy_memory((uint64_t)(uintptr_t)dsc->address, dsc->size);
            }
            daddr += sizeof *dsc;
            break;
        }
        case MACH_MSG_OOL_VOLATILE_DESCRIPTOR:
            daddr += sizeof(mach_msg_ool_descriptor_t);
            break;
        case MACH_MSG_OOL_PORTS_DESCRIPTOR: {
            mach_msg_ool_ports_descriptor_t *dsc = (mach_msg_ool_ports_descriptor_t *)daddr;
            mach_port_t *ports = (mach_port_t *)dsc->address;
            for (mach_msg_type_number_t j = 0; j < dsc->count; j++, ports++) {
                destroy_port(*ports, dsc->disposition);
            }
            if (dsc->deallocate) {
                destroy_memory((uint64_t)(uintptr_t)dsc->address, (uint64_t)dsc->count * sizeof(mach_port_t));
            }
            daddr += sizeof *dsc;
            break;
        }
        case MACH_MSG_GUARDED_PORT_DESCRIPTOR: {
            /* libsyscall unguards first (:486-489) unless MACH_MSG_GUARD_FLAGS_UNGUARDED_ON_SEND; the kernel host
             * has no guarded ports (and the seam no mach_port_unguard), so there is nothing to unguard. */
            mach_msg_guarded_port_descriptor_t *dsc = (mach_msg_guarded_port_descriptor_t *)daddr;
            destroy_port(dsc->name, dsc->disposition);
            daddr += sizeof *dsc;
            break;
        }
        default:
            break;
        }
    }
}
