/* MachIpc's libSystem for Linux: port names, rights, types and port attributes (values from the Mach ABI fact
 * sheet and XNU's osfmk/mach/port.h, declared here independently). */
#ifndef MACHIPC_MACH_PORT_H
#define MACHIPC_MACH_PORT_H

#include <stdint.h>
#include <mach/vm_types.h>

/* In user space a port is named by a 32-bit name in the task's IPC space. */
typedef natural_t mach_port_name_t;
typedef mach_port_name_t mach_port_t;
typedef mach_port_name_t *mach_port_name_array_t;
typedef mach_port_t *mach_port_array_t;

#define MACH_PORT_NULL  ((mach_port_t)0)
#define MACH_PORT_DEAD  ((mach_port_t)~0u)
#define MACH_PORT_VALID(name) (((name) != MACH_PORT_NULL) && ((name) != MACH_PORT_DEAD))

typedef natural_t mach_port_right_t;
#define MACH_PORT_RIGHT_SEND      ((mach_port_right_t)0)
#define MACH_PORT_RIGHT_RECEIVE   ((mach_port_right_t)1)
#define MACH_PORT_RIGHT_SEND_ONCE ((mach_port_right_t)2)
#define MACH_PORT_RIGHT_PORT_SET  ((mach_port_right_t)3)
#define MACH_PORT_RIGHT_DEAD_NAME ((mach_port_right_t)4)
#define MACH_PORT_RIGHT_NUMBER    ((mach_port_right_t)5)

typedef natural_t mach_port_type_t;
typedef mach_port_type_t *mach_port_type_array_t;
#define MACH_PORT_TYPE(right)      ((mach_port_type_t)(1u << ((right) + 16)))
#define MACH_PORT_TYPE_NONE        ((mach_port_type_t)0)
#define MACH_PORT_TYPE_SEND        MACH_PORT_TYPE(MACH_PORT_RIGHT_SEND)
#define MACH_PORT_TYPE_RECEIVE     MACH_PORT_TYPE(MACH_PORT_RIGHT_RECEIVE)
#define MACH_PORT_TYPE_SEND_ONCE   MACH_PORT_TYPE(MACH_PORT_RIGHT_SEND_ONCE)
#define MACH_PORT_TYPE_PORT_SET    MACH_PORT_TYPE(MACH_PORT_RIGHT_PORT_SET)
#define MACH_PORT_TYPE_DEAD_NAME   MACH_PORT_TYPE(MACH_PORT_RIGHT_DEAD_NAME)
#define MACH_PORT_TYPE_SEND_RECEIVE (MACH_PORT_TYPE_SEND | MACH_PORT_TYPE_RECEIVE)
#define MACH_PORT_TYPE_DNREQUEST   0x80000000u

typedef natural_t mach_port_urefs_t;
typedef int mach_port_delta_t;
typedef natural_t mach_port_seqno_t;
typedef natural_t mach_port_mscount_t;
typedef natural_t mach_port_msgcount_t;
typedef natural_t mach_port_rights_t;
typedef uint64_t mach_port_context_t;

/* mach_port_{get,set}_attributes */
typedef int mach_port_flavor_t;
typedef integer_t *mach_port_info_t;
#define MACH_PORT_LIMITS_INFO    1
#define MACH_PORT_RECEIVE_STATUS 2

typedef struct mach_port_limits {
    mach_port_msgcount_t mpl_qlimit;
} mach_port_limits_t;
#define MACH_PORT_LIMITS_INFO_COUNT ((natural_t)(sizeof(mach_port_limits_t) / sizeof(natural_t)))

#define MACH_PORT_QLIMIT_ZERO    0
#define MACH_PORT_QLIMIT_BASIC   5
#define MACH_PORT_QLIMIT_SMALL   16
#define MACH_PORT_QLIMIT_LARGE   1024
#define MACH_PORT_QLIMIT_KERNEL  65534
#define MACH_PORT_QLIMIT_DEFAULT MACH_PORT_QLIMIT_BASIC
#define MACH_PORT_QLIMIT_MAX     MACH_PORT_QLIMIT_LARGE

typedef struct mach_port_status {
    mach_port_rights_t mps_pset;
    mach_port_seqno_t mps_seqno;
    mach_port_mscount_t mps_mscount;
    mach_port_msgcount_t mps_qlimit;
    mach_port_msgcount_t mps_msgcount;
    mach_port_rights_t mps_sorights;
    int mps_srights;
    int mps_pdrequest;
    int mps_nsrequest;
    natural_t mps_flags;
} mach_port_status_t;
#define MACH_PORT_RECEIVE_STATUS_COUNT ((natural_t)(sizeof(mach_port_status_t) / sizeof(natural_t)))

/* mach_port_construct */
#define MPO_CONTEXT_AS_GUARD     0x01
#define MPO_QLIMIT               0x02
#define MPO_TEMPOWNER            0x04
#define MPO_IMPORTANCE_RECEIVER  0x08
#define MPO_INSERT_SEND_RIGHT    0x10
#define MPO_STRICT               0x20
#define MPO_DENAP_RECEIVER       0x40
#define MPO_IMMOVABLE_RECEIVE    0x80
#define MPO_FILTER_MSG           0x100
#define MPO_TG_BLOCK_TRACKING    0x200
#define MPO_SERVICE_PORT         0x400
#define MPO_CONNECTION_PORT      0x800
#define MPO_REPLY_PORT           0x1000
#define MPO_ENFORCE_REPLY_PORT_SEMANTICS 0x2000
#define MPO_PROVISIONAL_REPLY_PORT 0x4000

/* 24 bytes: flags, the queue limit, then 16 bytes whose meaning depends on the flags. */
typedef struct mach_port_options {
    uint32_t flags;
    mach_port_limits_t mpl;
    union {
        uint64_t reserved[2];
        mach_port_name_t work_interval_port;
        mach_port_name_t service_port_name;
    };
} mach_port_options_t;
typedef mach_port_options_t *mach_port_options_ptr_t;

#endif
