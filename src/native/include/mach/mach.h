/* MachIpc's libSystem for Linux: the Mach API a C peer uses, behind the same include a Mac program uses. */
#ifndef MACHIPC_MACH_MACH_H
#define MACHIPC_MACH_MACH_H

#include <mach/kern_return.h>
#include <mach/mach_types.h>
#include <mach/port.h>
#include <mach/message.h>
#include <mach/mach_init.h>
#include <mach/mach_port.h>
#include <mach/mach_traps.h>
#include <mach/task.h>
#include <mach/notify.h>
#include <mach/mig_errors.h>

#ifdef __cplusplus
extern "C" {
#endif

/* libsyscall's one-request server loop for MIG demux functions (mach/mach.h declares it there too). */
mach_msg_return_t mach_msg_server_once(boolean_t (*demux)(mach_msg_header_t *, mach_msg_header_t *),
                                       mach_msg_size_t max_size, mach_port_t rcv_name, mach_msg_options_t options);

#ifdef __cplusplus
}
#endif

#endif
