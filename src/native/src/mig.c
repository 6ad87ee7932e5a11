/* The user-space support MIG-generated C links against: the NDR record, the thread's reply port and
 * mach_msg_server_once (xnu-11417.101.15 libsyscall/mach/mig_reply_port.c, libsyscall/mach/mach_msg.c,
 * osfmk/mach/i386/ndr_def.h), done here as there. */
#define _GNU_SOURCE
#include "host.h"

#include <stdlib.h>
#include <mach/mach.h>

/* osfmk/mach/{i386,arm}/ndr_def.h: what every little-endian Mac's MIG code sends. */
MACHIPC_EXPORT NDR_record_t NDR_record = {
    0, 0, 0, NDR_PROTOCOL_2_0, NDR_INT_LITTLE_ENDIAN, NDR_CHAR_ASCII, NDR_FLOAT_IEEE, 0,
};

/* libsyscall keeps the port in a TSD slot (__TSD_MIG_REPLY); a thread-local is the same thing here. */
static _Thread_local mach_port_t t_reply_port;

/* mig_reply_port.c mig_get_reply_port: allocated on first use. libsyscall constructs it with MPO_REPLY_PORT, a
 * reply-port flavour of receive right the kernel host does not model; a plain receive right is what the rpc needs.
 * libsyscall traps when the allocation fails; MACH_PORT_NULL here makes the caller's mach_msg fail instead. */
MACHIPC_EXPORT mach_port_t mig_get_reply_port(void)
{
    if (t_reply_port == MACH_PORT_NULL) {
        mach_port_t port = MACH_PORT_NULL;
        if (mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &port) == KERN_SUCCESS) {
            t_reply_port = port;
        }
    }
    return t_reply_port;
}

/* mig_reply_port.c mig_dealloc_reply_port: after a failed rpc whose reply may still come, the port goes (its
 * receive right dropped) and the next call gets a fresh one. A different name passed in is deallocated too. */
MACHIPC_EXPORT void mig_dealloc_reply_port(mach_port_t migport)
{
    mach_port_t port = t_reply_port;
    if (port != MACH_PORT_NULL) {
        t_reply_port = MACH_PORT_NULL;
        (void)mach_port_mod_refs(mach_task_self(), port, MACH_PORT_RIGHT_RECEIVE, -1);
        if (migport != port) {
            (void)mach_port_deallocate(mach_task_self(), migport);
        }
    }
}

/* mig_reply_port.c mig_put_reply_port: nothing to do, the port stays the thread's. */
MACHIPC_EXPORT void mig_put_reply_port(mach_port_t reply_port)
{
    (void)reply_port;
}

static mach_msg_size_t round_page(mach_msg_size_t size)
{
    return (size + 4095u) & ~4095u;
}

/* message.h REQUESTED_TRAILER_SIZE: the trailer the receive options ask for. */
static mach_msg_size_t requested_trailer_size(mach_msg_option_t options)
{
    switch ((options >> 24) & 0xf) {
    case MACH_RCV_TRAILER_NULL: return sizeof(mach_msg_trailer_t);
    case MACH_RCV_TRAILER_SEQNO: return sizeof(mach_msg_seqno_trailer_t);
    case MACH_RCV_TRAILER_SENDER: return sizeof(mach_msg_security_trailer_t);
    case MACH_RCV_TRAILER_AUDIT: return sizeof(mach_msg_audit_trailer_t);
    case MACH_RCV_TRAILER_CTX: return sizeof(mach_msg_context_trailer_t);
    case MACH_RCV_TRAILER_AV: return sizeof(mach_msg_mac_trailer_t);
    default: return MAX_TRAILER_SIZE;
    }
}

/* mach_msg.c mach_msg_server_mig_return_code: a complex reply succeeded (RetCode's place holds a descriptor count). */
static kern_return_t mig_return_code(const mig_reply_error_t *reply)
{
    return (reply->Head.msgh_bits & MACH_MSGH_BITS_COMPLEX) ? KERN_SUCCESS : reply->RetCode;
}

/* mach_msg.c mach_msg_server_consume_unsent_message: a reply that could not be sent is destroyed, local right too. */
static void consume_unsent_message(mach_msg_header_t *hdr)
{
    mach_port_t port = hdr->msgh_local_port;
    if (MACH_PORT_VALID(port)) {
        switch (MACH_MSGH_BITS_LOCAL(hdr->msgh_bits)) {
        case MACH_MSG_TYPE_MOVE_SEND:
        case MACH_MSG_TYPE_MOVE_SEND_ONCE:
            (void)mach_port_deallocate(mach_task_self(), port);
            hdr->msgh_local_port = MACH_PORT_NULL;
            break;
        }
    }
    mach_msg_destroy(hdr);
}

/* mach_msg.c mach_msg_server_once (:561): receive one request, demux it, then send the reply, destroy the request
 * (not its reply right, which MIG moved into the reply) when the routine failed, or send nothing for MIG_NO_REPLY.
 * The buffers never leave this function, so calloc stands in for libsyscall's zero-filled vm_allocate; vouchers
 * are not modelled by the kernel host, so there is none to adopt. */
MACHIPC_EXPORT mach_msg_return_t mach_msg_server_once(boolean_t (*demux)(mach_msg_header_t *, mach_msg_header_t *),
                                                      mach_msg_size_t max_size, mach_port_t rcv_name, mach_msg_options_t options)
{
    options &= ~(MACH_SEND_MSG | MACH_RCV_MSG | MACH_RCV_VOUCHER);
    mach_msg_size_t trailer_alloc = requested_trailer_size(options);
    /* libsyscall allocates whole pages but receives only max_size + trailer unless MACH_RCV_LARGE is set. */
    mach_msg_size_t request_alloc = round_page(max_size + trailer_alloc);
    mach_msg_size_t request_size = (options & MACH_RCV_LARGE) ? request_alloc : max_size + trailer_alloc;
    mig_reply_error_t *reply = calloc(1, (options & MACH_SEND_TRAILER) ? max_size + MAX_TRAILER_SIZE : max_size);
    if (reply == NULL) {
        return KERN_RESOURCE_SHORTAGE;
    }
    mig_reply_error_t *request;
    mach_msg_return_t mr;
    for (;;) {
        request = calloc(1, request_alloc);
        if (request == NULL) {
            free(reply);
            return KERN_RESOURCE_SHORTAGE;
        }
        mr = mach_msg(&request->Head, MACH_RCV_MSG | options, 0, request_size, rcv_name, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
        if (!(mr == MACH_RCV_TOO_LARGE && (options & MACH_RCV_LARGE))) {
            break;
        }
        /* MACH_RCV_LARGE left the message queued and its size in the header: retry with room for it. */
        request_size = request_alloc = round_page(request->Head.msgh_size + trailer_alloc);
        free(request);
    }
    if (mr == MACH_MSG_SUCCESS) {
        (void)(*demux)(&request->Head, &reply->Head);
        switch (mig_return_code(reply)) {
        case KERN_SUCCESS:
            break;
        case MIG_NO_REPLY:
            reply->Head.msgh_remote_port = MACH_PORT_NULL;
            break;
        default:
            request->Head.msgh_remote_port = MACH_PORT_NULL;
            mach_msg_destroy(&request->Head);
        }
        /* A send-once reply right never blocks; a send right might, so it gets MACH_SEND_TIMEOUT (with timeout 0). */
        if (reply->Head.msgh_remote_port != MACH_PORT_NULL) {
            mach_msg_option_t send = MACH_MSGH_BITS_REMOTE(reply->Head.msgh_bits) == MACH_MSG_TYPE_MOVE_SEND_ONCE
                ? MACH_SEND_MSG | options : MACH_SEND_MSG | MACH_SEND_TIMEOUT | options;
            mr = mach_msg(&reply->Head, send, reply->Head.msgh_size, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
            /* mach_msg_server_is_recoverable_send_error: the reply never left, so it is still ours to destroy. */
            if (mr == MACH_SEND_INVALID_DEST || mr == MACH_SEND_TIMED_OUT || mr == MACH_SEND_INTERRUPTED) {
                consume_unsent_message(&reply->Head);
                mr = MACH_MSG_SUCCESS;
            }
        }
    }
    free(request);
    free(reply);
    return mr;
}
