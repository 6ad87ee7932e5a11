/* The request and reply structs of MIG-generated C for mach_exc, exc and notify, re-declared for MachIpc's golden
 * layout test from the facts of public MIG output (field names, C types, order, #pragma pack(4)) — see
 * Mig/Golden/golden_layouts.txt for the sources — and printed as "<variant> <struct> <field> <offset>" and
 * "<variant> <struct> sizeof <size>". Each variant is the interface at the THREAD_STATE_MAX its source was built with. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The Mach types as C peers get them: Apple's headers on macOS, src/native's (the native libSystem's) elsewhere. */
#include <mach/message.h>
#include <mach/ndr.h>

#define SIZE(V, T) printf("%s %s sizeof %zu\n", #V, #T, sizeof(V##T))
#define OFF(V, T, F) printf("%s %s %s %zu\n", #V, #T, #F, offsetof(V##T, F))

/* exception_raise / mach_exception_raise: codes of type C (integer_t or int64_t); thread state of N words. */
#define EXC_STRUCTS(V, R, C, N) \
    typedef struct { mach_msg_header_t Head; mach_msg_body_t msgh_body; mach_msg_port_descriptor_t thread, task; \
        NDR_record_t NDR; int32_t exception; uint32_t codeCnt; C code[2]; } V##__Request__##R##_t; \
    typedef struct { mach_msg_header_t Head; NDR_record_t NDR; int32_t RetCode; } V##__Reply__##R##_t; \
    typedef struct { mach_msg_header_t Head; NDR_record_t NDR; int32_t exception; uint32_t codeCnt; C code[2]; \
        int32_t flavor; uint32_t old_stateCnt; uint32_t old_state[N]; } V##__Request__##R##_state_t; \
    typedef struct { mach_msg_header_t Head; NDR_record_t NDR; int32_t RetCode; int32_t flavor; uint32_t new_stateCnt; \
        uint32_t new_state[N]; } V##__Reply__##R##_state_t; \
    typedef struct { mach_msg_header_t Head; mach_msg_body_t msgh_body; mach_msg_port_descriptor_t thread, task; \
        NDR_record_t NDR; int32_t exception; uint32_t codeCnt; C code[2]; int32_t flavor; uint32_t old_stateCnt; \
        uint32_t old_state[N]; } V##__Request__##R##_state_identity_t; \
    typedef struct { mach_msg_header_t Head; NDR_record_t NDR; int32_t RetCode; int32_t flavor; uint32_t new_stateCnt; \
        uint32_t new_state[N]; } V##__Reply__##R##_state_identity_t;

#define EXC_PRINT(V, R) \
    SIZE(V, __Request__##R##_t); OFF(V, __Request__##R##_t, Head); OFF(V, __Request__##R##_t, msgh_body); \
    OFF(V, __Request__##R##_t, thread); OFF(V, __Request__##R##_t, task); OFF(V, __Request__##R##_t, NDR); \
    OFF(V, __Request__##R##_t, exception); OFF(V, __Request__##R##_t, codeCnt); OFF(V, __Request__##R##_t, code); \
    SIZE(V, __Reply__##R##_t); OFF(V, __Reply__##R##_t, Head); OFF(V, __Reply__##R##_t, NDR); OFF(V, __Reply__##R##_t, RetCode); \
    SIZE(V, __Request__##R##_state_t); OFF(V, __Request__##R##_state_t, Head); OFF(V, __Request__##R##_state_t, NDR); \
    OFF(V, __Request__##R##_state_t, exception); OFF(V, __Request__##R##_state_t, codeCnt); OFF(V, __Request__##R##_state_t, code); \
    OFF(V, __Request__##R##_state_t, flavor); OFF(V, __Request__##R##_state_t, old_stateCnt); OFF(V, __Request__##R##_state_t, old_state); \
    SIZE(V, __Reply__##R##_state_t); OFF(V, __Reply__##R##_state_t, Head); OFF(V, __Reply__##R##_state_t, NDR); \
    OFF(V, __Reply__##R##_state_t, RetCode); OFF(V, __Reply__##R##_state_t, flavor); OFF(V, __Reply__##R##_state_t, new_stateCnt); \
    OFF(V, __Reply__##R##_state_t, new_state); \
    SIZE(V, __Request__##R##_state_identity_t); OFF(V, __Request__##R##_state_identity_t, Head); \
    OFF(V, __Request__##R##_state_identity_t, msgh_body); OFF(V, __Request__##R##_state_identity_t, thread); \
    OFF(V, __Request__##R##_state_identity_t, task); OFF(V, __Request__##R##_state_identity_t, NDR); \
    OFF(V, __Request__##R##_state_identity_t, exception); OFF(V, __Request__##R##_state_identity_t, codeCnt); \
    OFF(V, __Request__##R##_state_identity_t, code); OFF(V, __Request__##R##_state_identity_t, flavor); \
    OFF(V, __Request__##R##_state_identity_t, old_stateCnt); OFF(V, __Request__##R##_state_identity_t, old_state); \
    SIZE(V, __Reply__##R##_state_identity_t); OFF(V, __Reply__##R##_state_identity_t, Head); \
    OFF(V, __Reply__##R##_state_identity_t, NDR); OFF(V, __Reply__##R##_state_identity_t, RetCode); \
    OFF(V, __Reply__##R##_state_identity_t, flavor); OFF(V, __Reply__##R##_state_identity_t, new_stateCnt); \
    OFF(V, __Reply__##R##_state_identity_t, new_state);

#pragma pack(push, 4)
EXC_STRUCTS(mach_exc_1296, mach_exception_raise, int64_t, 1296)
EXC_STRUCTS(mach_exc_224, mach_exception_raise, int64_t, 224)
EXC_STRUCTS(exc_144, exception_raise, int32_t, 144)

/* notify: one-way notifications; the replies MIG declares are the error form. */
typedef struct { mach_msg_header_t Head; NDR_record_t NDR; uint32_t name; } notify__Request__mach_notify_port_deleted_t;
typedef struct { mach_msg_header_t Head; mach_msg_body_t msgh_body; mach_msg_port_descriptor_t rights; } notify__Request__mach_notify_port_destroyed_t;
typedef struct { mach_msg_header_t Head; NDR_record_t NDR; uint32_t mscount; } notify__Request__mach_notify_no_senders_t;
typedef struct { mach_msg_header_t Head; } notify__Request__mach_notify_send_once_t;
typedef struct { mach_msg_header_t Head; NDR_record_t NDR; uint32_t name; } notify__Request__mach_notify_dead_name_t;
#pragma pack(pop)

int main(void)
{
    EXC_PRINT(mach_exc_1296, mach_exception_raise)
    EXC_PRINT(mach_exc_224, mach_exception_raise)
    EXC_PRINT(exc_144, exception_raise)
    SIZE(notify, __Request__mach_notify_port_deleted_t); OFF(notify, __Request__mach_notify_port_deleted_t, Head);
    OFF(notify, __Request__mach_notify_port_deleted_t, NDR); OFF(notify, __Request__mach_notify_port_deleted_t, name);
    SIZE(notify, __Request__mach_notify_port_destroyed_t); OFF(notify, __Request__mach_notify_port_destroyed_t, Head);
    OFF(notify, __Request__mach_notify_port_destroyed_t, msgh_body); OFF(notify, __Request__mach_notify_port_destroyed_t, rights);
    SIZE(notify, __Request__mach_notify_no_senders_t); OFF(notify, __Request__mach_notify_no_senders_t, Head);
    OFF(notify, __Request__mach_notify_no_senders_t, NDR); OFF(notify, __Request__mach_notify_no_senders_t, mscount);
    SIZE(notify, __Request__mach_notify_send_once_t); OFF(notify, __Request__mach_notify_send_once_t, Head);
    SIZE(notify, __Request__mach_notify_dead_name_t); OFF(notify, __Request__mach_notify_dead_name_t, Head);
    OFF(notify, __Request__mach_notify_dead_name_t, NDR); OFF(notify, __Request__mach_notify_dead_name_t, name);
    return 0;
}
