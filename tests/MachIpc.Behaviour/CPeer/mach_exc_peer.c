/*
 * MIG-style C peers of the mach_exc interface, the other side of the cross-language round trips with MachIpc's
 * generated C# (MigCPeerTests.cs): a client that sends mach_exception_raise and mach_exception_raise_state_identity
 * as MIG's user stubs do, and a server that receives them as MIG's server stubs and mach_msg_server_once do.
 * Written for MachIpc from the behaviour of MIG-generated code (message layout under pack(4), NDR record, counts
 * before arrays, arrays trimmed to their count with later fields moved up, the request checks, id + 100 replies and
 * the mig_reply_error_t form); no generated code is copied. Built against the SDK on a Mac and against src/native's
 * libSystem elsewhere, where the library joins the kernel host named by MACHIPC_KERNEL_SOCKET before main runs.
 *
 *   mach_exc_peer server <service> <n>  check in, print "ready", serve n requests, then "ok": exception 1 succeeds
 *                                       (the state comes back with every word + 1 and flavor + 100), exception 99
 *                                       fails with KERN_FAILURE; each request is printed with the pid of the task
 *                                       port it carried
 *   mach_exc_peer client <service>      call both routines with exception 1, then both with exception 99, then
 *                                       raise with 98 (no codes), print each result, then "ok"
 */
#include <mach/mach.h>
#include <servers/bootstrap.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PEER_BASE 2405
#define STATE_MAX 1296

#pragma pack(push, 4)
typedef struct {
    mach_msg_header_t Head;
    mach_msg_body_t msgh_body;
    mach_msg_port_descriptor_t thread;
    mach_msg_port_descriptor_t task;
    NDR_record_t NDR;
    exception_type_t exception;
    mach_msg_type_number_t codeCnt;
    int64_t code[2];
} raise_request_t;

typedef struct {
    mach_msg_header_t Head;
    mach_msg_body_t msgh_body;
    mach_msg_port_descriptor_t thread;
    mach_msg_port_descriptor_t task;
    NDR_record_t NDR;
    exception_type_t exception;
    mach_msg_type_number_t codeCnt;
    int64_t code[2];
    int flavor;
    mach_msg_type_number_t old_stateCnt;
    natural_t old_state[STATE_MAX];
} identity_request_t;

typedef struct {
    mach_msg_header_t Head;
    NDR_record_t NDR;
    kern_return_t RetCode;
    int flavor;
    mach_msg_type_number_t new_stateCnt;
    natural_t new_state[STATE_MAX];
} identity_reply_t;
#pragma pack(pop)

/* The fixed part of the identity request: everything but the unused codes and state words. */
#define IDENTITY_MIN (sizeof(identity_request_t) - sizeof(int64_t) * 2 - sizeof(natural_t) * STATE_MAX)
#define IDENTITY_REPLY_MIN (sizeof(identity_reply_t) - sizeof(natural_t) * STATE_MAX)

static void port_descriptor(mach_msg_port_descriptor_t *d, mach_port_t name)
{
    d->name = name;
    d->pad1 = 0;
    d->pad2 = 0;
    d->disposition = MACH_MSG_TYPE_COPY_SEND;
    d->type = MACH_MSG_PORT_DESCRIPTOR;
}

/* What the peers print. */
static const char *codes(const int64_t *code, mach_msg_type_number_t count)
{
    static char text[64];
    text[0] = 0;
    for (mach_msg_type_number_t i = 0; i < count; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "%s%lld", i ? "," : "", (long long)code[i]);
    return text;
}

static const char *words(const natural_t *word, mach_msg_type_number_t count)
{
    static char text[256];
    text[0] = 0;
    for (mach_msg_type_number_t i = 0; i < count && strlen(text) < sizeof text - 16; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "%s%u", i ? "," : "", word[i]);
    return text;
}

/* ---- client: what MIG's user stubs do ---------------------------------------------------------------------- */

/* A failed rpc: keep the reply port only if the request never left (MIG's __MachMsgErrorWithoutTimeout). */
static kern_return_t rpc_failed(mach_port_t reply_port, mach_msg_return_t mr)
{
    if (mr == MACH_SEND_INVALID_DATA || mr == MACH_SEND_INVALID_DEST || mr == MACH_SEND_INVALID_HEADER)
        mig_put_reply_port(reply_port);
    else
        mig_dealloc_reply_port(reply_port);
    return mr;
}

static kern_return_t check_identity(const mach_msg_header_t *head, int id)
{
    if (head->msgh_id == id)
        return KERN_SUCCESS;
    return head->msgh_id == MACH_NOTIFY_SEND_ONCE ? MIG_SERVER_DIED : MIG_REPLY_MISMATCH;
}

static kern_return_t peer_mach_exception_raise(mach_port_t server, mach_port_t thread, mach_port_t task,
    exception_type_t exception, const int64_t *code, mach_msg_type_number_t codeCnt)
{
    union { raise_request_t in; mig_reply_error_t out; } m;
    if (codeCnt > 2)
        return MIG_ARRAY_TOO_LARGE;
    memset(&m, 0, sizeof(m));
    mach_port_t reply_port = mig_get_reply_port();
    m.in.Head.msgh_bits = MACH_MSGH_BITS_COMPLEX | MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    m.in.Head.msgh_remote_port = server;
    m.in.Head.msgh_local_port = reply_port;
    m.in.Head.msgh_id = PEER_BASE;
    m.in.msgh_body.msgh_descriptor_count = 2;
    port_descriptor(&m.in.thread, thread);
    port_descriptor(&m.in.task, task);
    m.in.NDR = NDR_record;
    m.in.exception = exception;
    m.in.codeCnt = codeCnt;
    memcpy(m.in.code, code, sizeof(int64_t) * codeCnt);
    /* Only the codes sent travel: the message ends after them. */
    mach_msg_size_t size = (mach_msg_size_t)(sizeof(raise_request_t) - sizeof(int64_t) * (2 - codeCnt));
    m.in.Head.msgh_size = size;
    mach_msg_return_t mr = mach_msg(&m.in.Head, MACH_SEND_MSG | MACH_RCV_MSG, size, sizeof(m), reply_port,
        MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
    if (mr != MACH_MSG_SUCCESS)
        return rpc_failed(reply_port, mr);
    kern_return_t kr = check_identity(&m.out.Head, PEER_BASE + 100);
    if (kr == KERN_SUCCESS && ((m.out.Head.msgh_bits & MACH_MSGH_BITS_COMPLEX) || m.out.Head.msgh_size != sizeof(mig_reply_error_t)
        || m.out.Head.msgh_remote_port != MACH_PORT_NULL))
        kr = MIG_TYPE_ERROR;
    if (kr != KERN_SUCCESS) {
        mach_msg_destroy(&m.out.Head);
        return kr;
    }
    return m.out.RetCode;
}

static kern_return_t peer_mach_exception_raise_state_identity(mach_port_t server, mach_port_t thread, mach_port_t task,
    exception_type_t exception, const int64_t *code, mach_msg_type_number_t codeCnt, int *flavor,
    const natural_t *old_state, mach_msg_type_number_t old_stateCnt, natural_t *new_state, mach_msg_type_number_t *new_stateCnt)
{
    static union { identity_request_t in; identity_reply_t out; } m;
    if (codeCnt > 2 || old_stateCnt > STATE_MAX)
        return MIG_ARRAY_TOO_LARGE;
    memset(&m, 0, sizeof(m));
    mach_port_t reply_port = mig_get_reply_port();
    m.in.Head.msgh_bits = MACH_MSGH_BITS_COMPLEX | MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    m.in.Head.msgh_remote_port = server;
    m.in.Head.msgh_local_port = reply_port;
    m.in.Head.msgh_id = PEER_BASE + 2;
    m.in.msgh_body.msgh_descriptor_count = 2;
    port_descriptor(&m.in.thread, thread);
    port_descriptor(&m.in.task, task);
    m.in.NDR = NDR_record;
    m.in.exception = exception;
    m.in.codeCnt = codeCnt;
    memcpy(m.in.code, code, sizeof(int64_t) * codeCnt);
    /* Fields after a short array move up: write them through a pointer shifted by the unused bytes. */
    size_t delta = sizeof(int64_t) * codeCnt;
    identity_request_t *in1 = (identity_request_t *)((char *)&m.in + delta - sizeof(m.in.code));
    in1->flavor = *flavor;
    in1->old_stateCnt = old_stateCnt;
    memcpy(in1->old_state, old_state, sizeof(natural_t) * old_stateCnt);
    mach_msg_size_t size = (mach_msg_size_t)(IDENTITY_MIN + delta + sizeof(natural_t) * old_stateCnt);
    m.in.Head.msgh_size = size;
    mach_msg_return_t mr = mach_msg(&m.in.Head, MACH_SEND_MSG | MACH_RCV_MSG, size, sizeof(m), reply_port,
        MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
    if (mr != MACH_MSG_SUCCESS)
        return rpc_failed(reply_port, mr);

    kern_return_t kr = check_identity(&m.out.Head, PEER_BASE + 2 + 100);
    mach_msg_size_t got = m.out.Head.msgh_size;
    if (kr == KERN_SUCCESS && ((m.out.Head.msgh_bits & MACH_MSGH_BITS_COMPLEX) || m.out.Head.msgh_remote_port != MACH_PORT_NULL
        || ((got < IDENTITY_REPLY_MIN || got > sizeof(identity_reply_t))
            && (got != sizeof(mig_reply_error_t) || m.out.RetCode == KERN_SUCCESS))))
        kr = MIG_TYPE_ERROR;
    if (kr == KERN_SUCCESS && m.out.RetCode != KERN_SUCCESS)
        kr = m.out.RetCode;
    if (kr == KERN_SUCCESS && (m.out.new_stateCnt > STATE_MAX || got != IDENTITY_REPLY_MIN + sizeof(natural_t) * m.out.new_stateCnt))
        kr = MIG_TYPE_ERROR;
    if (kr != KERN_SUCCESS) {
        mach_msg_destroy(&m.out.Head);
        return kr;
    }
    *flavor = m.out.flavor;
    if (m.out.new_stateCnt > *new_stateCnt) {
        memcpy(new_state, m.out.new_state, sizeof(natural_t) * *new_stateCnt);
        *new_stateCnt = m.out.new_stateCnt;
        return MIG_ARRAY_TOO_LARGE;
    }
    memcpy(new_state, m.out.new_state, sizeof(natural_t) * m.out.new_stateCnt);
    *new_stateCnt = m.out.new_stateCnt;
    return KERN_SUCCESS;
}

/* ---- server: what MIG's server stubs and mach_msg_server do ------------------------------------------------- */

/* Whose task port the request carried: the kernel's answer, not anything the message says. */
static int task_pid(mach_port_t task)
{
    int pid = -1;
    return pid_for_task(task, &pid) == KERN_SUCCESS ? pid : -1;
}

static void reply_error(mach_msg_header_t *out, kern_return_t code)
{
    ((mig_reply_error_t *)out)->NDR = NDR_record;
    ((mig_reply_error_t *)out)->RetCode = code;
}

static kern_return_t check_port(const mach_msg_port_descriptor_t *d)
{
    return d->type == MACH_MSG_PORT_DESCRIPTOR && d->disposition == MACH_MSG_TYPE_PORT_SEND ? KERN_SUCCESS : MIG_TYPE_ERROR;
}

static void serve_raise(mach_msg_header_t *in_head, mach_msg_header_t *out_head)
{
    raise_request_t *in = (raise_request_t *)in_head;
    mach_msg_size_t size = in_head->msgh_size;
    const mach_msg_size_t min = sizeof(raise_request_t) - sizeof(in->code);
    if (!(in_head->msgh_bits & MACH_MSGH_BITS_COMPLEX) || in->msgh_body.msgh_descriptor_count != 2 || size < min || size > sizeof(*in)) {
        reply_error(out_head, MIG_BAD_ARGUMENTS);
        return;
    }
    if (check_port(&in->thread) != KERN_SUCCESS || check_port(&in->task) != KERN_SUCCESS) {
        reply_error(out_head, MIG_TYPE_ERROR);
        return;
    }
    if (in->codeCnt > 2 || (size - min) / 8 < in->codeCnt || size != min + 8 * in->codeCnt) {
        reply_error(out_head, MIG_BAD_ARGUMENTS);
        return;
    }
    printf("raise %d [%s] task pid %d\n", in->exception, codes(in->code, in->codeCnt), task_pid(in->task.name));
    if (in->exception == 99) {
        reply_error(out_head, KERN_FAILURE);
        return;
    }
    /* Success: this server keeps (here, releases) the rights it was sent. */
    mach_port_deallocate(mach_task_self(), in->thread.name);
    mach_port_deallocate(mach_task_self(), in->task.name);
    reply_error(out_head, KERN_SUCCESS);
}

static void serve_identity(mach_msg_header_t *in_head, mach_msg_header_t *out_head)
{
    identity_request_t *in0 = (identity_request_t *)in_head;
    identity_reply_t *out = (identity_reply_t *)out_head;
    mach_msg_size_t size = in_head->msgh_size;
    if (!(in_head->msgh_bits & MACH_MSGH_BITS_COMPLEX) || in0->msgh_body.msgh_descriptor_count != 2
        || size < IDENTITY_MIN || size > sizeof(*in0)) {
        reply_error(out_head, MIG_BAD_ARGUMENTS);
        return;
    }
    if (check_port(&in0->thread) != KERN_SUCCESS || check_port(&in0->task) != KERN_SUCCESS) {
        reply_error(out_head, MIG_TYPE_ERROR);
        return;
    }
    mach_msg_size_t delta = 8 * in0->codeCnt;
    if (in0->codeCnt > 2 || (size - IDENTITY_MIN) / 8 < in0->codeCnt || size < IDENTITY_MIN + delta) {
        reply_error(out_head, MIG_BAD_ARGUMENTS);
        return;
    }
    size -= delta;
    identity_request_t *in1 = (identity_request_t *)((char *)in0 + delta - sizeof(in0->code));
    if (in1->old_stateCnt > STATE_MAX || (size - IDENTITY_MIN) / 4 < in1->old_stateCnt || size != IDENTITY_MIN + 4 * in1->old_stateCnt) {
        reply_error(out_head, MIG_BAD_ARGUMENTS);
        return;
    }
    printf("identity %d [%s] flavor %d state [%s] task pid %d\n", in0->exception, codes(in0->code, in0->codeCnt), in1->flavor,
        words(in1->old_state, in1->old_stateCnt), task_pid(in0->task.name));
    if (in0->exception == 99) {
        reply_error(out_head, KERN_FAILURE);
        return;
    }
    mach_port_deallocate(mach_task_self(), in0->thread.name);
    mach_port_deallocate(mach_task_self(), in0->task.name);
    for (mach_msg_type_number_t i = 0; i < in1->old_stateCnt; i++)
        out->new_state[i] = in1->old_state[i] + 1;
    out->new_stateCnt = in1->old_stateCnt;
    out->flavor = in1->flavor + 100;
    out->NDR = NDR_record;
    out->RetCode = KERN_SUCCESS;
    out_head->msgh_size = (mach_msg_size_t)(IDENTITY_REPLY_MIN + 4 * out->new_stateCnt);
}

/* The demux: reply header as MIG makes it (to the reply right, id + 100), then the routine or MIG_BAD_ID. */
static boolean_t peer_mach_exc_server(mach_msg_header_t *in_head, mach_msg_header_t *out_head)
{
    out_head->msgh_bits = MACH_MSGH_BITS(MACH_MSGH_BITS_REMOTE(in_head->msgh_bits), 0);
    out_head->msgh_remote_port = in_head->msgh_remote_port;
    out_head->msgh_size = sizeof(mig_reply_error_t);
    out_head->msgh_local_port = MACH_PORT_NULL;
    out_head->msgh_id = in_head->msgh_id + 100;
    out_head->msgh_voucher_port = 0;
    switch (in_head->msgh_id) {
    case PEER_BASE: serve_raise(in_head, out_head); return 1;
    case PEER_BASE + 2: serve_identity(in_head, out_head); return 1;
    default: reply_error(out_head, MIG_BAD_ID); return 0;
    }
}

static int server(const char *service, int n)
{
    mach_port_t port = MACH_PORT_NULL;
    kern_return_t kr = bootstrap_check_in(bootstrap_port, service, &port);
    if (kr != KERN_SUCCESS) {
        printf("fail bootstrap_check_in %d\n", kr);
        return 1;
    }
    printf("ready\n");
    /* mach_msg_server_once replies (or destroys a failed request) as MIG servers do. */
    for (int i = 0; i < n; i++) {
        mach_msg_return_t mr = mach_msg_server_once(peer_mach_exc_server, sizeof(identity_request_t) + 8, port, 0);
        if (mr != MACH_MSG_SUCCESS) {
            printf("fail mach_msg_server_once 0x%x\n", mr);
            return 1;
        }
    }
    return 0;
}

static int client(const char *service)
{
    mach_port_t port = MACH_PORT_NULL;
    kern_return_t kr = bootstrap_look_up(bootstrap_port, service, &port);
    if (kr != KERN_SUCCESS) {
        printf("fail bootstrap_look_up %d\n", kr);
        return 1;
    }
    /* The task port as both thread and task: the server can ask the kernel whose it is. */
    mach_port_t self = mach_task_self();
    int64_t two[2] = { 0x101, -2 };
    printf("raise %d\n", peer_mach_exception_raise(port, self, self, 1, two, 2));

    /* One code of two: flavor and the state move up 8 bytes on the wire. */
    natural_t old_state[4] = { 3, 6, 9, 12 };
    static natural_t new_state[STATE_MAX];
    mach_msg_type_number_t count = STATE_MAX;
    int flavor = 6;
    kr = peer_mach_exception_raise_state_identity(port, self, self, 1, two, 1, &flavor, old_state, 4, new_state, &count);
    printf("identity %d flavor %d state [%s]\n", kr, flavor, words(new_state, count));

    printf("raise(99) %d\n", peer_mach_exception_raise(port, self, self, 99, two, 1));
    count = STATE_MAX;
    flavor = 7;
    kr = peer_mach_exception_raise_state_identity(port, self, self, 99, two, 2, &flavor, old_state, 2, new_state, &count);
    printf("identity(99) %d flavor %d\n", kr, flavor);
    printf("raise(98) %d\n", peer_mach_exception_raise(port, self, self, 98, two, 0));
    mach_port_deallocate(mach_task_self(), port);
    mig_dealloc_reply_port(mig_get_reply_port());
    return 0;
}

int main(int argc, char **argv)
{
    /* Each line reaches the test as it is printed: "ready" is what the test waits for. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = 2;
    if (argc == 4 && strcmp(argv[1], "server") == 0)
        rc = server(argv[2], atoi(argv[3]));
    else if (argc == 3 && strcmp(argv[1], "client") == 0)
        rc = client(argv[2]);
    else
        fprintf(stderr, "usage: %s server <service> <n> | client <service>\n", argv[0]);
    if (rc == 0)
        printf("ok\n");
    return rc;
}
