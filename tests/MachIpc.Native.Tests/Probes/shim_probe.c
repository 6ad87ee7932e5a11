/* Drives libmachipc_system.so's user-space parts for the native tests. Each mode prints what it observed, one
 * "key value" per line, and exits 0 unless a check inside failed ("fail <why>").
 *
 *   retry       mach_msg send+receive, then with MACH_SEND_INTERRUPT, then with MACH_RCV_INTERRUPT (the scripted
 *               host decides what each trap returns); prints each result
 *   destroy     mach_msg_destroy of a hand-built message carrying every kind of right and region; prints the
 *               addresses of its regions so the test can match the host's vm_deallocate requests
 *   lost        one call of each kind after the host hung up; prints each result
 *   fork        in a forked child, mach_task_self_ names the child's own task; the parent's task survives
 *   unjoined <socket>   (no MACHIPC_KERNEL_SOCKET) what the calls return before any join, then after joining
 *               <socket> with machipc_libsystem_join
 *   regions     out-of-line regions received, forwarded with deallocate = TRUE, deallocated, and mach_port_names'
 *               arrays, one step per stdin line */
#define _GNU_SOURCE
#include <errno.h>
#include <mach/mach.h>
#include <mach/mach_vm.h>
#include <machipc/libsystem.h>
#include <servers/bootstrap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fileport.h>
#include <sys/wait.h>
#include <unistd.h>

static mach_msg_return_t msg(mach_msg_option_t option)
{
    union {
        mach_msg_header_t header;
        char bytes[128];
    } b;
    memset(&b, 0, sizeof b);
    b.header.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
    b.header.msgh_size = sizeof(mach_msg_header_t);
    b.header.msgh_remote_port = 0x1203;
    b.header.msgh_id = 1;
    return mach_msg(&b.header, option, sizeof(mach_msg_header_t), sizeof b, 0x1307, 0, MACH_PORT_NULL);
}

static int retry(void)
{
    printf("plain 0x%x\n", msg(MACH_SEND_MSG | MACH_RCV_MSG));
    printf("send_interrupt 0x%x\n", msg(MACH_SEND_MSG | MACH_RCV_MSG | MACH_SEND_INTERRUPT));
    printf("rcv_interrupt 0x%x\n", msg(MACH_SEND_MSG | MACH_RCV_MSG | MACH_RCV_INTERRUPT));
    return 0;
}

#pragma pack(push, 4)
struct everything {
    mach_msg_header_t header;
    mach_msg_body_t body;
    mach_msg_port_descriptor_t receive;
    mach_msg_ool_descriptor_t kept;
    mach_msg_ool_descriptor_t freed;
    mach_msg_ool_descriptor_t volatile_region;
    mach_msg_ool_ports_descriptor_t ports;
    mach_msg_port_descriptor_t dead;
    mach_msg_port_descriptor_t send_once;
};
#pragma pack(pop)

static int destroy(void)
{
    static char kept[100], freed[200], volatile_region[300];
    static mach_port_t names[2] = { 0x2221, 0x2222 };
    struct everything m;
    memset(&m, 0, sizeof m);
    m.header.msgh_bits = MACH_MSGH_BITS_SET(MACH_MSG_TYPE_MOVE_SEND, MACH_MSG_TYPE_MOVE_SEND_ONCE, MACH_MSG_TYPE_MOVE_SEND,
                                            MACH_MSGH_BITS_COMPLEX);
    m.header.msgh_size = sizeof m;
    m.header.msgh_remote_port = 0x1111;
    m.header.msgh_local_port = 0x9999; /* never a right: mach_msg_destroy leaves it alone */
    m.header.msgh_voucher_port = 0x5555;
    m.body.msgh_descriptor_count = 7;
    m.receive = (mach_msg_port_descriptor_t){ .name = 0x1212, .disposition = MACH_MSG_TYPE_MOVE_RECEIVE, .type = MACH_MSG_PORT_DESCRIPTOR };
    m.kept = (mach_msg_ool_descriptor_t){ .address = kept, .size = sizeof kept, .deallocate = 0, .type = MACH_MSG_OOL_DESCRIPTOR };
    m.freed = (mach_msg_ool_descriptor_t){ .address = freed, .size = sizeof freed, .deallocate = 1, .type = MACH_MSG_OOL_DESCRIPTOR };
    m.volatile_region = (mach_msg_ool_descriptor_t){ .address = volatile_region, .size = sizeof volatile_region, .deallocate = 1,
                                                     .type = MACH_MSG_OOL_VOLATILE_DESCRIPTOR };
    m.ports = (mach_msg_ool_ports_descriptor_t){ .address = names, .count = 2, .deallocate = 1, .disposition = MACH_MSG_TYPE_MAKE_SEND,
                                                 .type = MACH_MSG_OOL_PORTS_DESCRIPTOR };
    m.dead = (mach_msg_port_descriptor_t){ .name = MACH_PORT_DEAD, .disposition = MACH_MSG_TYPE_MOVE_SEND, .type = MACH_MSG_PORT_DESCRIPTOR };
    m.send_once = (mach_msg_port_descriptor_t){ .name = 0x3333, .disposition = MACH_MSG_TYPE_MAKE_SEND_ONCE, .type = MACH_MSG_PORT_DESCRIPTOR };
    mach_msg_destroy(&m.header);
    printf("self 0x%x\n", mach_task_self());
    printf("kept %llu\n", (unsigned long long)(uintptr_t)kept);
    printf("freed %llu\n", (unsigned long long)(uintptr_t)freed);
    printf("volatile %llu\n", (unsigned long long)(uintptr_t)volatile_region);
    printf("names %llu\n", (unsigned long long)(uintptr_t)names);
    return 0;
}

static int lost(void)
{
    mach_port_t port = 0;
    printf("send 0x%x\n", msg(MACH_SEND_MSG));
    printf("receive 0x%x\n", msg(MACH_RCV_MSG));
    printf("allocate %d\n", mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &port));
    printf("special %d\n", task_get_special_port(mach_task_self(), TASK_BOOTSTRAP_PORT, &port));
    int pid = 0;
    kern_return_t kr = pid_for_task(mach_task_self(), &pid);
    printf("pid_for_task %d %d\n", kr, pid);
    printf("look_up 0x%x\n", bootstrap_look_up(bootstrap_port, "org.machipc.nobody", &port));
    errno = 0;
    int rc = fileport_makeport(1, &port);
    printf("fileport %d %d\n", rc, errno);
    printf("vm_deallocate %d\n", mach_vm_deallocate(mach_task_self(), 4096, 4096));
    return 0;
}

static int fork_child(void)
{
    /* A call first, so that the parent has a pooled connection the child inherits. */
    int before = 0;
    if (pid_for_task(mach_task_self(), &before) != KERN_SUCCESS || before != getpid()) {
        printf("fail parent pid_for_task before the fork\n");
        return 1;
    }
    pid_t child = fork();
    if (child == 0) {
        int pid = 0;
        kern_return_t kr = pid_for_task(mach_task_self(), &pid);
        if (kr != KERN_SUCCESS || pid != getpid()) {
            printf("fail child pid_for_task %d %d (pid %d)\n", kr, pid, getpid());
            fflush(stdout);
            _exit(1);
        }
        _exit(0);
    }
    int status = 0;
    waitpid(child, &status, 0);
    int pid = 0;
    kern_return_t kr = pid_for_task(mach_task_self(), &pid);
    printf("child %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    printf("parent %d %d\n", kr, pid == getpid());
    return 0;
}

#pragma pack(push, 4)
struct ool_message {
    mach_msg_header_t header;
    mach_msg_body_t body;
    mach_msg_ool_descriptor_t data;
};
#pragma pack(pop)

/* Sends `len` bytes at `address` to `port` out of line and receives them back; returns the received region. */
static unsigned char *bounce(mach_port_t port, void *address, mach_msg_size_t len, int deallocate)
{
    union {
        struct ool_message m;
        char bytes[sizeof(struct ool_message) + MAX_TRAILER_SIZE];
    } b;
    memset(&b, 0, sizeof b);
    b.m.header.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0) | MACH_MSGH_BITS_COMPLEX;
    b.m.header.msgh_size = sizeof b.m;
    b.m.header.msgh_remote_port = port;
    b.m.body.msgh_descriptor_count = 1;
    b.m.data = (mach_msg_ool_descriptor_t){ .address = address, .size = len, .deallocate = deallocate, .copy = MACH_MSG_VIRTUAL_COPY,
                                             .type = MACH_MSG_OOL_DESCRIPTOR };
    mach_msg_return_t mr = mach_msg(&b.m.header, MACH_SEND_MSG | MACH_RCV_MSG | MACH_RCV_TIMEOUT, sizeof b.m, sizeof b, port, 5000, MACH_PORT_NULL);
    if (mr != MACH_MSG_SUCCESS || b.m.data.size != len || b.m.data.address == NULL) {
        printf("fail bounce 0x%x\n", mr);
        exit(1);
    }
    return b.m.data.address;
}

static void step(const char *what)
{
    char line[16];
    printf("%s\n", what);
    if (fgets(line, sizeof line, stdin) == NULL) {
        exit(1);
    }
}

/* Received regions, one step at a time (the test reads the host's VM accounting of this task after each). */
static int regions(void)
{
    static unsigned char data[10000];
    for (size_t i = 0; i < sizeof data; i++) {
        data[i] = (unsigned char)(i * 13);
    }
    mach_port_t port;
    if (mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &port) != KERN_SUCCESS ||
        mach_port_insert_right(mach_task_self(), port, port, MACH_MSG_TYPE_MAKE_SEND) != KERN_SUCCESS) {
        printf("fail port\n");
        return 1;
    }
    unsigned char *first = bounce(port, data, sizeof data, 0);
    step(memcmp(first, data, sizeof data) == 0 ? "received" : "fail received bytes");
    /* deallocate = TRUE on a region this task received: copyin frees it in the host, and here. */
    unsigned char *second = bounce(port, first, sizeof data, 1);
    step(memcmp(second, data, sizeof data) == 0 ? "forwarded" : "fail forwarded bytes");
    printf("deallocate %d\n", mach_vm_deallocate(mach_task_self(), (mach_vm_address_t)(uintptr_t)second, sizeof data));
    step("deallocated");
    mach_port_name_t *names;
    mach_port_type_t *types;
    mach_msg_type_number_t count, types_count;
    if (mach_port_names(mach_task_self(), &names, &count, &types, &types_count) != KERN_SUCCESS || count != types_count) {
        printf("fail names\n");
        return 1;
    }
    int listed = 0;
    for (mach_msg_type_number_t i = 0; i < count; i++) {
        listed |= names[i] == port && types[i] == MACH_PORT_TYPE_SEND_RECEIVE;
    }
    step(listed ? "listed" : "fail port not listed");
    mach_vm_deallocate(mach_task_self(), (mach_vm_address_t)(uintptr_t)names, count * sizeof *names);
    mach_vm_deallocate(mach_task_self(), (mach_vm_address_t)(uintptr_t)types, count * sizeof *types);
    step("names freed");
    return 0;
}

static int unjoined(const char *socket_path)
{
    printf("self 0x%x bootstrap 0x%x\n", mach_task_self(), bootstrap_port);
    mach_port_t port = 0;
    printf("allocate %d\n", mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &port));
    printf("send 0x%x\n", msg(MACH_SEND_MSG));
    /* What a .NET process does (its environment changes do not reach this library): join explicitly, later. */
    printf("join %d\n", machipc_libsystem_join(socket_path));
    printf("joined %d %d\n", mach_task_self() != MACH_PORT_NULL && bootstrap_port != MACH_PORT_NULL,
           mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &port));
    printf("again %d\n", machipc_libsystem_join(socket_path));
    errno = 0;
    int other = machipc_libsystem_join("/nonexistent/other.sock");
    printf("other %d %d\n", other, errno == EISCONN);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *mode = argc > 1 ? argv[1] : "";
    return strcmp(mode, "retry") == 0 ? retry()
         : strcmp(mode, "destroy") == 0 ? destroy()
         : strcmp(mode, "lost") == 0 ? lost()
         : strcmp(mode, "fork") == 0 ? fork_child()
         : strcmp(mode, "unjoined") == 0 ? unjoined(argc > 2 ? argv[2] : "")
         : strcmp(mode, "regions") == 0 ? regions()
         : 2;
}
