/* MachIpc's libSystem for Linux: the bootstrap server calls (served by the kernel host's bootstrap server). */
#ifndef MACHIPC_SERVERS_BOOTSTRAP_H
#define MACHIPC_SERVERS_BOOTSTRAP_H

#include <mach/mach.h>

#define BOOTSTRAP_MAX_NAME_LEN 128
typedef char name_t[BOOTSTRAP_MAX_NAME_LEN];

#define BOOTSTRAP_SUCCESS         0
#define BOOTSTRAP_NOT_PRIVILEGED  1100
#define BOOTSTRAP_NAME_IN_USE     1101
#define BOOTSTRAP_UNKNOWN_SERVICE 1102
#define BOOTSTRAP_SERVICE_ACTIVE  1103
#define BOOTSTRAP_BAD_COUNT       1104
#define BOOTSTRAP_NO_MEMORY       1105
#define BOOTSTRAP_NO_CHILDREN     1106

#ifdef __cplusplus
extern "C" {
#endif

/* The task's send right to its bootstrap server, set when the process joins a kernel host. */
extern mach_port_t bootstrap_port;

/* Apple declares these names as (const) name_t; a parameter of array type is the same pointer, and spelling it as
 * one keeps GCC's -Wstringop-overread from flagging every string literal shorter than 128 bytes. */
kern_return_t bootstrap_check_in(mach_port_t bp, const char *service_name, mach_port_t *sp);
kern_return_t bootstrap_look_up(mach_port_t bp, const char *service_name, mach_port_t *sp);
kern_return_t bootstrap_register(mach_port_t bp, char *service_name, mach_port_t sp);

#ifdef __cplusplus
}
#endif

#endif
