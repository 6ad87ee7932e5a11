/* MachIpc's libSystem for Linux: Mach messages. Sizes, offsets and values are the macOS ABI's (the Mach ABI
 * fact sheet); the message structs are 4-byte packed as in XNU's osfmk/mach/message.h, so the layouts here are
 * the ones a C peer compiled on a Mac sees. */
#ifndef MACHIPC_MACH_MESSAGE_H
#define MACHIPC_MACH_MESSAGE_H

#include <stdint.h>
#include <mach/kern_return.h>
#include <mach/port.h>

typedef unsigned int mach_msg_bits_t;
typedef natural_t mach_msg_size_t;
typedef integer_t mach_msg_id_t;
typedef natural_t mach_msg_timeout_t;
typedef natural_t mach_msg_type_name_t;
typedef natural_t mach_msg_copy_options_t;
typedef natural_t mach_msg_descriptor_type_t;
typedef natural_t mach_msg_type_number_t;
typedef natural_t mach_msg_trailer_type_t;
typedef natural_t mach_msg_trailer_size_t;
typedef integer_t mach_msg_option_t;
typedef integer_t mach_msg_options_t;
typedef kern_return_t mach_msg_return_t;
typedef unsigned int mach_msg_priority_t;
typedef uint16_t mach_msg_guard_flags_t;
typedef int boolean_t;

#define MACH_MSG_TIMEOUT_NONE ((mach_msg_timeout_t)0)

/* Header bits */
#define MACH_MSGH_BITS_ZERO          0x00000000u
#define MACH_MSGH_BITS_REMOTE_MASK   0x0000001fu
#define MACH_MSGH_BITS_LOCAL_MASK    0x00001f00u
#define MACH_MSGH_BITS_VOUCHER_MASK  0x001f0000u
#define MACH_MSGH_BITS_PORTS_MASK    (MACH_MSGH_BITS_REMOTE_MASK | MACH_MSGH_BITS_LOCAL_MASK | MACH_MSGH_BITS_VOUCHER_MASK)
#define MACH_MSGH_BITS_COMPLEX       0x80000000u
#define MACH_MSGH_BITS(remote, local) ((remote) | ((local) << 8))
#define MACH_MSGH_BITS_SET_PORTS(remote, local, voucher) \
    (((remote) & MACH_MSGH_BITS_REMOTE_MASK) | (((local) << 8) & MACH_MSGH_BITS_LOCAL_MASK) | \
     (((voucher) << 16) & MACH_MSGH_BITS_VOUCHER_MASK))
#define MACH_MSGH_BITS_SET(remote, local, voucher, other) \
    (MACH_MSGH_BITS_SET_PORTS((remote), (local), (voucher)) | ((other) & ~MACH_MSGH_BITS_PORTS_MASK))
#define MACH_MSGH_BITS_REMOTE(bits)  ((bits) & MACH_MSGH_BITS_REMOTE_MASK)
#define MACH_MSGH_BITS_LOCAL(bits)   (((bits) & MACH_MSGH_BITS_LOCAL_MASK) >> 8)
#define MACH_MSGH_BITS_VOUCHER(bits) (((bits) & MACH_MSGH_BITS_VOUCHER_MASK) >> 16)

/* Dispositions (what a sender asks for) and the received forms. */
#define MACH_MSG_TYPE_MOVE_RECEIVE      16
#define MACH_MSG_TYPE_MOVE_SEND         17
#define MACH_MSG_TYPE_MOVE_SEND_ONCE    18
#define MACH_MSG_TYPE_COPY_SEND         19
#define MACH_MSG_TYPE_MAKE_SEND         20
#define MACH_MSG_TYPE_MAKE_SEND_ONCE    21
#define MACH_MSG_TYPE_COPY_RECEIVE      22
#define MACH_MSG_TYPE_DISPOSE_RECEIVE   24
#define MACH_MSG_TYPE_DISPOSE_SEND      25
#define MACH_MSG_TYPE_DISPOSE_SEND_ONCE 26
#define MACH_MSG_TYPE_PORT_NAME         15
#define MACH_MSG_TYPE_PORT_RECEIVE      MACH_MSG_TYPE_MOVE_RECEIVE
#define MACH_MSG_TYPE_PORT_SEND         MACH_MSG_TYPE_MOVE_SEND
#define MACH_MSG_TYPE_PORT_SEND_ONCE    MACH_MSG_TYPE_MOVE_SEND_ONCE

/* Descriptors */
#define MACH_MSG_PORT_DESCRIPTOR         0
#define MACH_MSG_OOL_DESCRIPTOR          1
#define MACH_MSG_OOL_PORTS_DESCRIPTOR    2
#define MACH_MSG_OOL_VOLATILE_DESCRIPTOR 3
#define MACH_MSG_GUARDED_PORT_DESCRIPTOR 4
#define MACH_MSG_PHYSICAL_COPY 0
#define MACH_MSG_VIRTUAL_COPY  1
#define MACH_MSG_GUARD_FLAGS_NONE               0x0000
#define MACH_MSG_GUARD_FLAGS_IMMOVABLE_RECEIVE  0x0001
#define MACH_MSG_GUARD_FLAGS_UNGUARDED_ON_SEND  0x0002

#pragma pack(push, 4)

typedef struct {
    mach_msg_bits_t msgh_bits;
    mach_msg_size_t msgh_size;
    mach_port_t msgh_remote_port;
    mach_port_t msgh_local_port;
    mach_port_name_t msgh_voucher_port;
    mach_msg_id_t msgh_id;
} mach_msg_header_t;

typedef struct {
    mach_msg_size_t msgh_descriptor_count;
} mach_msg_body_t;

typedef struct {
    mach_msg_header_t header;
    mach_msg_body_t body;
} mach_msg_base_t;

typedef struct {
    natural_t pad1;
    mach_msg_size_t pad2;
    unsigned int pad3 : 24;
    mach_msg_descriptor_type_t type : 8;
} mach_msg_type_descriptor_t;

typedef struct {
    mach_port_t name;
    mach_msg_size_t pad1;
    unsigned int pad2 : 16;
    mach_msg_type_name_t disposition : 8;
    mach_msg_descriptor_type_t type : 8;
} mach_msg_port_descriptor_t;

typedef struct {
    void *address;
    boolean_t deallocate : 8;
    mach_msg_copy_options_t copy : 8;
    unsigned int pad1 : 8;
    mach_msg_descriptor_type_t type : 8;
    mach_msg_size_t size;
} mach_msg_ool_descriptor_t;

typedef struct {
    void *address;
    boolean_t deallocate : 8;
    mach_msg_copy_options_t copy : 8;
    mach_msg_type_name_t disposition : 8;
    mach_msg_descriptor_type_t type : 8;
    mach_msg_size_t count;
} mach_msg_ool_ports_descriptor_t;

typedef struct {
    mach_port_context_t context;
    mach_msg_guard_flags_t flags : 16;
    mach_msg_type_name_t disposition : 8;
    mach_msg_descriptor_type_t type : 8;
    mach_port_name_t name;
} mach_msg_guarded_port_descriptor_t;

typedef union {
    mach_msg_port_descriptor_t port;
    mach_msg_ool_descriptor_t out_of_line;
    mach_msg_ool_ports_descriptor_t ool_ports;
    mach_msg_type_descriptor_t type;
    mach_msg_guarded_port_descriptor_t guarded_port;
} mach_msg_descriptor_t;

/* Trailers: the kernel appends one at round_msg(msgh_size) of the received message. */
typedef struct {
    mach_msg_trailer_type_t msgh_trailer_type;
    mach_msg_trailer_size_t msgh_trailer_size;
} mach_msg_trailer_t;

typedef struct {
    unsigned int val[2];
} security_token_t;

/* val[0] auid, [1] euid, [2] egid, [3] ruid, [4] rgid, [5] pid, [6] asid, [7] pid version */
typedef struct {
    unsigned int val[8];
} audit_token_t;

typedef struct {
    mach_msg_trailer_type_t msgh_trailer_type;
    mach_msg_trailer_size_t msgh_trailer_size;
    mach_port_seqno_t msgh_seqno;
} mach_msg_seqno_trailer_t;

typedef struct {
    mach_msg_trailer_type_t msgh_trailer_type;
    mach_msg_trailer_size_t msgh_trailer_size;
    mach_port_seqno_t msgh_seqno;
    security_token_t msgh_sender;
} mach_msg_security_trailer_t;

typedef struct {
    mach_msg_trailer_type_t msgh_trailer_type;
    mach_msg_trailer_size_t msgh_trailer_size;
    mach_port_seqno_t msgh_seqno;
    security_token_t msgh_sender;
    audit_token_t msgh_audit;
} mach_msg_audit_trailer_t;

typedef struct {
    mach_msg_trailer_type_t msgh_trailer_type;
    mach_msg_trailer_size_t msgh_trailer_size;
    mach_port_seqno_t msgh_seqno;
    security_token_t msgh_sender;
    audit_token_t msgh_audit;
    mach_port_context_t msgh_context;
} mach_msg_context_trailer_t;

typedef int mach_msg_filter_id;
typedef struct {
    mach_msg_trailer_type_t msgh_trailer_type;
    mach_msg_trailer_size_t msgh_trailer_size;
    mach_port_seqno_t msgh_seqno;
    security_token_t msgh_sender;
    audit_token_t msgh_audit;
    mach_port_context_t msgh_context;
    mach_msg_filter_id msgh_ad;
    natural_t msgh_labels;
} mach_msg_mac_trailer_t;
typedef mach_msg_mac_trailer_t mach_msg_max_trailer_t;

typedef struct {
    mach_msg_header_t header;
} mach_msg_empty_send_t;

typedef struct {
    mach_msg_header_t header;
    mach_msg_trailer_t trailer;
} mach_msg_empty_rcv_t;

#pragma pack(pop)

#define MACH_MSG_TRAILER_FORMAT_0      0
#define MACH_MSG_TRAILER_MINIMUM_SIZE  sizeof(mach_msg_trailer_t)
#define MAX_TRAILER_SIZE               ((mach_msg_size_t)sizeof(mach_msg_max_trailer_t))
#define round_msg(x) (((mach_msg_size_t)(x) + sizeof(natural_t) - 1) & ~(sizeof(natural_t) - 1))

/* mach_msg options */
#define MACH_MSG_OPTION_NONE    0x00000000
#define MACH_SEND_MSG           0x00000001
#define MACH_RCV_MSG            0x00000002
#define MACH_RCV_LARGE          0x00000004
#define MACH_RCV_LARGE_IDENTITY 0x00000008
#define MACH_SEND_TIMEOUT       0x00000010
#define MACH_SEND_OVERRIDE      0x00000020
#define MACH_SEND_INTERRUPT     0x00000040
#define MACH_SEND_NOTIFY        0x00000080
#define MACH_RCV_TIMEOUT        0x00000100
#define MACH_RCV_INTERRUPT      0x00000400
#define MACH_RCV_VOUCHER        0x00000800
#define MACH_RCV_SYNC_WAIT      0x00004000
#define MACH_SEND_TRAILER       0x00020000

#define MACH_RCV_TRAILER_NULL   0
#define MACH_RCV_TRAILER_SEQNO  1
#define MACH_RCV_TRAILER_SENDER 2
#define MACH_RCV_TRAILER_AUDIT  3
#define MACH_RCV_TRAILER_CTX    4
#define MACH_RCV_TRAILER_AV     7
#define MACH_RCV_TRAILER_LABELS 8
#define MACH_RCV_TRAILER_TYPE(x)     (((x) & 0xf) << 28)
#define MACH_RCV_TRAILER_ELEMENTS(x) (((x) & 0xf) << 24)
#define MACH_RCV_TRAILER_MASK        ((0xf << 24))

/* mach_msg_return_t */
#define MACH_MSG_SUCCESS            0x00000000
#define MACH_SEND_IN_PROGRESS       0x10000001
#define MACH_SEND_INVALID_DATA      0x10000002
#define MACH_SEND_INVALID_DEST      0x10000003
#define MACH_SEND_TIMED_OUT         0x10000004
#define MACH_SEND_INVALID_VOUCHER   0x10000005
#define MACH_SEND_INTERRUPTED       0x10000007
#define MACH_SEND_MSG_TOO_SMALL     0x10000008
#define MACH_SEND_INVALID_REPLY     0x10000009
#define MACH_SEND_INVALID_RIGHT     0x1000000a
#define MACH_SEND_INVALID_NOTIFY    0x1000000b
#define MACH_SEND_INVALID_MEMORY    0x1000000c
#define MACH_SEND_NO_BUFFER         0x1000000d
#define MACH_SEND_TOO_LARGE         0x1000000e
#define MACH_SEND_INVALID_TYPE      0x1000000f
#define MACH_SEND_INVALID_HEADER    0x10000010
#define MACH_SEND_INVALID_TRAILER   0x10000011
#define MACH_RCV_IN_PROGRESS        0x10004001
#define MACH_RCV_INVALID_NAME       0x10004002
#define MACH_RCV_TIMED_OUT          0x10004003
#define MACH_RCV_TOO_LARGE          0x10004004
#define MACH_RCV_INTERRUPTED        0x10004005
#define MACH_RCV_PORT_CHANGED       0x10004006
#define MACH_RCV_INVALID_NOTIFY     0x10004007
#define MACH_RCV_INVALID_DATA       0x10004008
#define MACH_RCV_PORT_DIED          0x10004009
#define MACH_RCV_IN_SET             0x1000400a
#define MACH_RCV_HEADER_ERROR       0x1000400b
#define MACH_RCV_BODY_ERROR         0x1000400c
#define MACH_RCV_INVALID_TYPE       0x1000400d
#define MACH_RCV_SCATTER_SMALL      0x1000400e
#define MACH_RCV_INVALID_TRAILER    0x1000400f

#ifdef __cplusplus
extern "C" {
#endif

mach_msg_return_t mach_msg(mach_msg_header_t *msg, mach_msg_option_t option, mach_msg_size_t send_size,
                           mach_msg_size_t rcv_size, mach_port_name_t rcv_name, mach_msg_timeout_t timeout,
                           mach_port_name_t notify);
void mach_msg_destroy(mach_msg_header_t *msg);

#ifdef __cplusplus
}
#endif

#endif
