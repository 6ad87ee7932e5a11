/* The part of <mach/mach.h>, <mach/mig.h>, <servers/bootstrap.h> and <mach/ndr.h> the MIG-style C peers use,
 * declared from the facts of those headers (types, values, signatures) so that the peers compile on Linux against
 * MachIpc's native libSystem layer. On a Mac the peers include the real headers instead. */
#ifndef MACHIPC_PEER_MACH_DECLS_H
#define MACHIPC_PEER_MACH_DECLS_H
#include <stdint.h>

typedef int kern_return_t;
typedef int mach_msg_return_t;
typedef uint32_t natural_t;
typedef int32_t integer_t;
typedef natural_t mach_port_t;
typedef natural_t mach_port_name_t;
typedef natural_t mach_msg_bits_t;
typedef natural_t mach_msg_size_t;
typedef integer_t mach_msg_id_t;
typedef natural_t mach_msg_timeout_t;
typedef natural_t mach_msg_type_number_t;
typedef integer_t mach_msg_option_t;
typedef unsigned int mach_msg_type_name_t;
typedef unsigned int mach_msg_descriptor_type_t;
typedef int exception_type_t;
typedef int64_t mach_exception_data_type_t;
typedef mach_exception_data_type_t *mach_exception_data_t;
typedef int thread_state_flavor_t;
typedef natural_t *thread_state_t;
typedef unsigned int boolean_t;

#pragma pack(push, 4)
typedef struct {
    mach_msg_bits_t msgh_bits;
    mach_msg_size_t msgh_size;
    mach_port_t msgh_remote_port;
    mach_port_t msgh_local_port;
    mach_port_name_t msgh_voucher_port;
    mach_msg_id_t msgh_id;
} mach_msg_header_t;
typedef struct { mach_msg_size_t msgh_descriptor_count; } mach_msg_body_t;
typedef struct {
    mach_port_t name;
    mach_msg_size_t pad1;
    unsigned int pad2 : 16;
    mach_msg_type_name_t disposition : 8;
    mach_msg_descriptor_type_t type : 8;
} mach_msg_port_descriptor_t;
typedef struct {
    unsigned char mig_vers, if_vers, reserved1, mig_encoding, int_rep, char_rep, float_rep, reserved2;
} NDR_record_t;
typedef struct { mach_msg_header_t Head; NDR_record_t NDR; kern_return_t RetCode; } mig_reply_error_t;
#pragma pack(pop)

#define KERN_SUCCESS 0
#define KERN_FAILURE 5
#define MACH_MSG_SUCCESS 0
#define MACH_PORT_NULL ((mach_port_t)0)
#define MACH_PORT_RIGHT_RECEIVE 1
#define MACH_MSG_TYPE_MOVE_SEND 17
#define MACH_MSG_TYPE_MOVE_SEND_ONCE 18
#define MACH_MSG_TYPE_COPY_SEND 19
#define MACH_MSG_TYPE_MAKE_SEND 20
#define MACH_MSG_TYPE_MAKE_SEND_ONCE 21
#define MACH_MSG_TYPE_PORT_SEND MACH_MSG_TYPE_MOVE_SEND
#define MACH_MSG_PORT_DESCRIPTOR 0
#define MACH_MSGH_BITS_COMPLEX 0x80000000u
#define MACH_MSGH_BITS(remote, local) ((remote) | ((local) << 8))
#define MACH_MSGH_BITS_REMOTE(bits) ((bits) & 0x1f)
#define MACH_SEND_MSG 0x00000001
#define MACH_RCV_MSG 0x00000002
#define MACH_SEND_TIMEOUT 0x00000010
#define MACH_RCV_TIMEOUT 0x00000100
#define MACH_MSG_TIMEOUT_NONE 0
#define MACH_NOTIFY_SEND_ONCE 71
#define MIG_TYPE_ERROR -300
#define MIG_REPLY_MISMATCH -301
#define MIG_BAD_ID -303
#define MIG_BAD_ARGUMENTS -304
#define MIG_SERVER_DIED -308
#define MIG_ARRAY_TOO_LARGE -307

extern const NDR_record_t NDR_record;
extern mach_port_t mach_task_self_;
#define mach_task_self() mach_task_self_
extern mach_port_t bootstrap_port;

mach_msg_return_t mach_msg(mach_msg_header_t *msg, mach_msg_option_t option, mach_msg_size_t send_size,
    mach_msg_size_t rcv_size, mach_port_name_t rcv_name, mach_msg_timeout_t timeout, mach_port_name_t notify);
void mach_msg_destroy(mach_msg_header_t *msg);
mach_msg_return_t mach_msg_server_once(boolean_t (*demux)(mach_msg_header_t *, mach_msg_header_t *),
    mach_msg_size_t max_size, mach_port_t rcv_name, mach_msg_option_t options);
kern_return_t mach_port_allocate(mach_port_t task, natural_t right, mach_port_name_t *name);
kern_return_t mach_port_deallocate(mach_port_t task, mach_port_name_t name);
kern_return_t mach_port_insert_right(mach_port_t task, mach_port_name_t name, mach_port_t poly, mach_msg_type_name_t poly_poly);
mach_port_t mig_get_reply_port(void);
void mig_dealloc_reply_port(mach_port_t reply_port);
void mig_put_reply_port(mach_port_t reply_port);
kern_return_t bootstrap_check_in(mach_port_t bp, const char *service_name, mach_port_t *sp);
kern_return_t bootstrap_look_up(mach_port_t bp, const char *service_name, mach_port_t *sp);

#endif
