/* A C peer of MachIpc's HelperRendezvous, written against the Mach API as on a Mac: on macOS it builds against the
 * SDK's headers and libSystem, on Linux against src/native's headers and libmachipc_system.so (joining the kernel
 * host named by MACHIPC_KERNEL_SOCKET before main runs, as libSystem sets up bootstrap_port).
 *
 *   helper_peer helper <service> <parent pid>   wait for a line on stdin, then check in with the C# parent
 *   helper_peer server <service> <helper pid>   check <service> in and serve one C# helper's check-in
 *
 * The check-in is the seed's (Ladybird's MachPortServer) as MachIpc's HelperRendezvous speaks it: the helper sends
 * a send-once reply port and an options word; the parent, recognising the helper by the audit trailer's pid, answers
 * with the helper's end of a channel (MOVE_RECEIVE + MOVE_SEND). The helper trusts that answer only if its audit
 * token names its parent; then (opt-in, asked for here) it sends its task port (COPY_SEND) in a second request to
 * the same service, which the parent keeps only after pid_for_task confirms it. Then the helper sends a
 * Parcel (a send right to answer on and out-of-line bytes), the parent answers with the bytes reversed, out of line,
 * and the helper sends a Note to say it is done. Prints "ok" or "fail <why>". */
#include <mach/mach.h>
#include <mach/mach_vm.h>
#include <servers/bootstrap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK_IN_REQUEST 0x4D490001 /* MachIpc.Connections.HelperCheckInRequest */
#define CHECK_IN_REPLY 0x4D490002   /* MachIpc.Connections.HelperCheckInReply */
#define TASK_PORT_REQUEST 0x4D490003 /* MachIpc.Connections.HelperTaskPortRequest */
#define TASK_PORT_REPLY 0x4D490004   /* MachIpc.Connections.HelperTaskPortReply */
#define TASK_PORT_FOLLOWS 1          /* HelperCheckInRequest.TaskPortFollows */
#define NOTE 0x4D420001             /* MachIpc.Behaviour.Note */
#define PARCEL 0x4D420002           /* MachIpc.Behaviour.Parcel */
#define PARCEL_BYTES 100000
#define TIMEOUT_MS 30000
#define AUDIT_TRAILER (MACH_RCV_TRAILER_TYPE(MACH_MSG_TRAILER_FORMAT_0) | MACH_RCV_TRAILER_ELEMENTS(MACH_RCV_TRAILER_AUDIT))

#pragma pack(push, 4)
typedef struct {
    mach_msg_header_t header;
    uint32_t options;
} check_in_request_t;

typedef struct {
    mach_msg_header_t header;
    mach_msg_body_t body;
    mach_msg_port_descriptor_t task_port;
} task_port_request_t;

typedef struct {
    mach_msg_header_t header;
    int32_t reserved;
} task_port_reply_t;

typedef struct {
    mach_msg_header_t header;
    mach_msg_body_t body;
    mach_msg_port_descriptor_t channel_receive;
    mach_msg_port_descriptor_t channel_send;
} check_in_reply_t;

typedef struct {
    mach_msg_header_t header;
    mach_msg_body_t body;
    mach_msg_port_descriptor_t reply_to;
    mach_msg_ool_descriptor_t data;
    int32_t checksum;
} parcel_t;

typedef struct {
    mach_msg_header_t header;
    int32_t value;
} note_t;
#pragma pack(pop)

/* Room for any of them plus the largest trailer. */
typedef union {
    mach_msg_header_t header;
    check_in_request_t request;
    check_in_reply_t reply;
    task_port_request_t task_port_request;
    task_port_reply_t task_port_reply;
    parcel_t parcel;
    note_t note;
    uint8_t bytes[256];
} buffer_t;

static int fail(const char *what, long detail)
{
    printf("fail %s (0x%lx)\n", what, detail);
    fflush(stdout);
    return 1;
}

/* MachIpc.Behaviour.Checksums.Of */
static int32_t checksum(const uint8_t *p, size_t n)
{
    uint32_t sum = 17;
    for (size_t i = 0; i < n; i++) {
        sum = sum * 31u + p[i];
    }
    return (int32_t)sum;
}

static const mach_msg_audit_trailer_t *audit(const buffer_t *b)
{
    return (const mach_msg_audit_trailer_t *)(b->bytes + round_msg(b->header.msgh_size));
}

static int sender_pid(const buffer_t *b) { return (int)audit(b)->msgh_audit.val[5]; }

static kern_return_t receive(mach_port_t port, buffer_t *b)
{
    memset(b, 0, sizeof *b);
    return mach_msg(&b->header, MACH_RCV_MSG | MACH_RCV_TIMEOUT | AUDIT_TRAILER, 0, sizeof *b, port, TIMEOUT_MS, MACH_PORT_NULL);
}

static kern_return_t send_parcel(mach_port_t to, mach_port_t reply_to, uint8_t *data, size_t n)
{
    parcel_t p;
    memset(&p, 0, sizeof p);
    p.header.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0) | MACH_MSGH_BITS_COMPLEX;
    p.header.msgh_size = sizeof p;
    p.header.msgh_remote_port = to;
    p.header.msgh_id = PARCEL;
    p.body.msgh_descriptor_count = 2;
    p.reply_to.name = reply_to;
    p.reply_to.disposition = MACH_MSG_TYPE_MAKE_SEND;
    p.reply_to.type = MACH_MSG_PORT_DESCRIPTOR;
    p.data.address = data;
    p.data.size = (mach_msg_size_t)n;
    p.data.copy = MACH_MSG_VIRTUAL_COPY;
    p.data.type = MACH_MSG_OOL_DESCRIPTOR;
    p.checksum = checksum(data, n);
    return mach_msg(&p.header, MACH_SEND_MSG | MACH_SEND_TIMEOUT, sizeof p, 0, MACH_PORT_NULL, TIMEOUT_MS, MACH_PORT_NULL);
}

/* A parcel as MachIpc's generated Parcel.TryRead checks it, from `pid`. */
static const char *check_parcel(const buffer_t *b, int pid)
{
    const parcel_t *p = &b->parcel;
    if (b->header.msgh_id != PARCEL || b->header.msgh_size != sizeof(parcel_t) || !(b->header.msgh_bits & MACH_MSGH_BITS_COMPLEX) ||
        p->body.msgh_descriptor_count != 2 || p->reply_to.type != MACH_MSG_PORT_DESCRIPTOR ||
        p->reply_to.disposition != MACH_MSG_TYPE_PORT_SEND || p->data.type != MACH_MSG_OOL_DESCRIPTOR) {
        return "parcel shape";
    }
    if (audit(b)->msgh_trailer_size < sizeof(mach_msg_audit_trailer_t) || sender_pid(b) != pid) {
        return "parcel sender";
    }
    if (p->data.address == NULL || p->data.size != PARCEL_BYTES || checksum(p->data.address, p->data.size) != p->checksum) {
        return "parcel bytes";
    }
    return NULL;
}

static void pattern(uint8_t *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        data[i] = (uint8_t)(i * 7 + 3);
    }
}

/* The helper's side after the check-in: a parcel out, the reversed bytes back, then a note. */
static int helper_exchange(mach_port_t from_parent, mach_port_t to_parent, int parent_pid)
{
    static uint8_t data[PARCEL_BYTES];
    pattern(data, sizeof data);
    kern_return_t kr = send_parcel(to_parent, from_parent, data, sizeof data);
    if (kr != KERN_SUCCESS) {
        return fail("send parcel", kr);
    }
    buffer_t b;
    if ((kr = receive(from_parent, &b)) != KERN_SUCCESS) {
        return fail("receive answer", kr);
    }
    const char *bad = check_parcel(&b, parent_pid);
    if (bad != NULL) {
        mach_msg_destroy(&b.header);
        return fail(bad, b.header.msgh_id);
    }
    const uint8_t *back = b.parcel.data.address;
    for (size_t i = 0; i < sizeof data; i++) {
        if (back[i] != data[sizeof data - 1 - i]) {
            mach_msg_destroy(&b.header);
            return fail("answer bytes", (long)i);
        }
    }
    /* The answer's send right (to the parent's channel port: it merged into to_parent's name) and its out-of-line
     * region (a virtual copy: deallocate is set on receipt) are released the way libsyscall does. */
    if (b.parcel.reply_to.name != to_parent) {
        return fail("answer's send right did not merge", b.parcel.reply_to.name);
    }
    mach_msg_destroy(&b.header);
    note_t note;
    memset(&note, 0, sizeof note);
    note.header.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
    note.header.msgh_size = sizeof note;
    note.header.msgh_remote_port = to_parent;
    note.header.msgh_id = NOTE;
    note.value = 99;
    if ((kr = mach_msg(&note.header, MACH_SEND_MSG | MACH_SEND_TIMEOUT, sizeof note, 0, MACH_PORT_NULL, TIMEOUT_MS, MACH_PORT_NULL)) != KERN_SUCCESS) {
        return fail("send note", kr);
    }
    return 0;
}

static int helper(const char *service, int parent_pid)
{
    char line[16];
    if (fgets(line, sizeof line, stdin) == NULL) { /* the parent expects our pid now: the check-in cannot race it */
        return fail("no go from the parent", 0);
    }
    mach_port_t server, reply;
    kern_return_t kr = bootstrap_look_up(bootstrap_port, service, &server);
    if (kr != KERN_SUCCESS) {
        return fail("bootstrap_look_up", kr);
    }
    if ((kr = mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &reply)) != KERN_SUCCESS) {
        return fail("mach_port_allocate", kr);
    }
    buffer_t b;
    memset(&b, 0, sizeof b);
    check_in_request_t *r = &b.request;
    r->header.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    r->header.msgh_size = sizeof *r;
    r->header.msgh_remote_port = server;
    r->header.msgh_local_port = reply;
    r->header.msgh_id = CHECK_IN_REQUEST;
    r->options = TASK_PORT_FOLLOWS;
    kr = mach_msg(&b.header, MACH_SEND_MSG | MACH_RCV_MSG | MACH_SEND_TIMEOUT | MACH_RCV_TIMEOUT | AUDIT_TRAILER, sizeof *r, sizeof b,
                  reply, TIMEOUT_MS, MACH_PORT_NULL);
    if (kr != KERN_SUCCESS) {
        return fail("check-in", kr);
    }
    const check_in_reply_t *a = &b.reply;
    if (b.header.msgh_id != CHECK_IN_REPLY || b.header.msgh_size != sizeof *a || !(b.header.msgh_bits & MACH_MSGH_BITS_COMPLEX) ||
        a->body.msgh_descriptor_count != 2 || a->channel_receive.disposition != MACH_MSG_TYPE_PORT_RECEIVE ||
        a->channel_send.disposition != MACH_MSG_TYPE_PORT_SEND) {
        mach_msg_destroy(&b.header);
        return fail("check-in reply", b.header.msgh_id);
    }
    /* Only the parent we were started by may hand us our channel; nothing more goes to anyone else. */
    if (sender_pid(&b) != parent_pid) {
        mach_msg_destroy(&b.header);
        return fail("check-in reply from another pid", sender_pid(&b));
    }
    mach_port_t from_parent = a->channel_receive.name, to_parent = a->channel_send.name;

    /* The verified parent asked for our task port: send it to the same service, on a new send-once reply right. */
    task_port_request_t *t = &b.task_port_request;
    memset(&b, 0, sizeof b);
    t->header.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE) | MACH_MSGH_BITS_COMPLEX;
    t->header.msgh_size = sizeof *t;
    t->header.msgh_remote_port = server;
    t->header.msgh_local_port = reply;
    t->header.msgh_id = TASK_PORT_REQUEST;
    t->body.msgh_descriptor_count = 1;
    t->task_port.name = mach_task_self();
    t->task_port.disposition = MACH_MSG_TYPE_COPY_SEND;
    t->task_port.type = MACH_MSG_PORT_DESCRIPTOR;
    kr = mach_msg(&b.header, MACH_SEND_MSG | MACH_RCV_MSG | MACH_SEND_TIMEOUT | MACH_RCV_TIMEOUT | AUDIT_TRAILER, sizeof *t, sizeof b,
                  reply, TIMEOUT_MS, MACH_PORT_NULL);
    mach_port_deallocate(mach_task_self(), server);
    if (kr != KERN_SUCCESS) {
        return fail("task port", kr);
    }
    if (b.header.msgh_id != TASK_PORT_REPLY || b.header.msgh_size != sizeof b.task_port_reply || sender_pid(&b) != parent_pid) {
        mach_msg_destroy(&b.header);
        return fail("task port reply", b.header.msgh_id);
    }
    int rc = helper_exchange(from_parent, to_parent, parent_pid);
    mach_port_deallocate(mach_task_self(), to_parent);
    mach_port_mod_refs(mach_task_self(), from_parent, MACH_PORT_RIGHT_RECEIVE, -1);
    mach_port_mod_refs(mach_task_self(), reply, MACH_PORT_RIGHT_RECEIVE, -1);
    return rc;
}

static int server(const char *service, int helper_pid)
{
    mach_port_t service_port;
    kern_return_t kr = bootstrap_check_in(bootstrap_port, service, &service_port);
    if (kr != KERN_SUCCESS) {
        return fail("bootstrap_check_in", kr);
    }
    printf("ready\n");
    fflush(stdout);
    buffer_t b;
    if ((kr = receive(service_port, &b)) != KERN_SUCCESS) {
        return fail("receive check-in", kr);
    }
    const check_in_request_t *r = &b.request;
    if (b.header.msgh_id != CHECK_IN_REQUEST || b.header.msgh_size != sizeof *r || (b.header.msgh_bits & MACH_MSGH_BITS_COMPLEX) ||
        (r->options & ~(uint32_t)TASK_PORT_FOLLOWS) != 0 ||
        MACH_MSGH_BITS_REMOTE(b.header.msgh_bits) != MACH_MSG_TYPE_PORT_SEND_ONCE || sender_pid(&b) != helper_pid) {
        mach_msg_destroy(&b.header);
        return fail("check-in request", b.header.msgh_id);
    }
    int task_port_follows = (r->options & TASK_PORT_FOLLOWS) != 0;
    mach_port_t reply_port = b.header.msgh_remote_port;

    /* The pair: the helper's inbox (its receive right moves to it) and ours (it gets a send right). */
    mach_port_t helper_inbox, our_inbox;
    mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &helper_inbox);
    mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &our_inbox);
    mach_port_insert_right(mach_task_self(), helper_inbox, helper_inbox, MACH_MSG_TYPE_MAKE_SEND);
    mach_port_t to_helper = helper_inbox; /* our send right keeps this name after the receive right moves */

    check_in_reply_t a;
    memset(&a, 0, sizeof a);
    a.header.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MOVE_SEND_ONCE, 0) | MACH_MSGH_BITS_COMPLEX;
    a.header.msgh_size = sizeof a;
    a.header.msgh_remote_port = reply_port;
    a.header.msgh_id = CHECK_IN_REPLY;
    a.body.msgh_descriptor_count = 2;
    a.channel_receive.name = helper_inbox;
    a.channel_receive.disposition = MACH_MSG_TYPE_MOVE_RECEIVE;
    a.channel_receive.type = MACH_MSG_PORT_DESCRIPTOR;
    a.channel_send.name = our_inbox;
    a.channel_send.disposition = MACH_MSG_TYPE_MAKE_SEND;
    a.channel_send.type = MACH_MSG_PORT_DESCRIPTOR;
    if ((kr = mach_msg(&a.header, MACH_SEND_MSG | MACH_SEND_TIMEOUT, sizeof a, 0, MACH_PORT_NULL, TIMEOUT_MS, MACH_PORT_NULL)) != KERN_SUCCESS) {
        return fail("send check-in reply", kr);
    }

    if (task_port_follows) {
        /* The helper's task port tells us its pid a second way; then we release it (a task port goes only to a parent). */
        if ((kr = receive(service_port, &b)) != KERN_SUCCESS) {
            return fail("receive task port", kr);
        }
        const task_port_request_t *t = &b.task_port_request;
        int task_pid = -1;
        if (b.header.msgh_id != TASK_PORT_REQUEST || b.header.msgh_size != sizeof *t || !(b.header.msgh_bits & MACH_MSGH_BITS_COMPLEX) ||
            t->body.msgh_descriptor_count != 1 || t->task_port.disposition != MACH_MSG_TYPE_PORT_SEND || sender_pid(&b) != helper_pid ||
            pid_for_task(t->task_port.name, &task_pid) != KERN_SUCCESS || task_pid != helper_pid) {
            mach_msg_destroy(&b.header);
            return fail("task port request", task_pid);
        }
        task_port_reply_t ack;
        memset(&ack, 0, sizeof ack);
        ack.header.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MOVE_SEND_ONCE, 0);
        ack.header.msgh_size = sizeof ack;
        ack.header.msgh_remote_port = b.header.msgh_remote_port;
        ack.header.msgh_id = TASK_PORT_REPLY;
        mach_port_deallocate(mach_task_self(), t->task_port.name);
        if ((kr = mach_msg(&ack.header, MACH_SEND_MSG | MACH_SEND_TIMEOUT, sizeof ack, 0, MACH_PORT_NULL, TIMEOUT_MS, MACH_PORT_NULL)) != KERN_SUCCESS) {
            return fail("send task port reply", kr);
        }
    }

    /* The helper's parcel: answer with the bytes reversed, out of line, on the send right it carries. */
    if ((kr = receive(our_inbox, &b)) != KERN_SUCCESS) {
        return fail("receive parcel", kr);
    }
    const char *bad = check_parcel(&b, helper_pid);
    if (bad != NULL) {
        mach_msg_destroy(&b.header);
        return fail(bad, b.header.msgh_id);
    }
    if (b.parcel.reply_to.name != to_helper) {
        mach_msg_destroy(&b.header);
        return fail("parcel's send right did not merge", b.parcel.reply_to.name);
    }
    static uint8_t reversed[PARCEL_BYTES];
    const uint8_t *data = b.parcel.data.address;
    for (size_t i = 0; i < PARCEL_BYTES; i++) {
        reversed[i] = data[PARCEL_BYTES - 1 - i];
    }
    kr = send_parcel(to_helper, our_inbox, reversed, sizeof reversed);
    mach_msg_destroy(&b.header); /* the parcel's region and its extra send right */
    if (kr != KERN_SUCCESS) {
        return fail("send answer", kr);
    }
    if ((kr = receive(our_inbox, &b)) != KERN_SUCCESS || b.header.msgh_id != NOTE || b.note.value != 99 || sender_pid(&b) != helper_pid) {
        return fail("receive note", kr ? kr : b.header.msgh_id);
    }
    mach_port_deallocate(mach_task_self(), to_helper);
    mach_port_mod_refs(mach_task_self(), our_inbox, MACH_PORT_RIGHT_RECEIVE, -1);
    mach_port_mod_refs(mach_task_self(), service_port, MACH_PORT_RIGHT_RECEIVE, -1);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s helper|server <service> <peer pid>\n", argv[0]);
        return 2;
    }
    int pid = atoi(argv[3]);
    int rc = strcmp(argv[1], "helper") == 0 ? helper(argv[2], pid) : strcmp(argv[1], "server") == 0 ? server(argv[2], pid) : 2;
    if (rc == 0) {
        printf("ok\n");
    }
    return rc;
}
