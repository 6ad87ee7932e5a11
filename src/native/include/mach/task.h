/* MachIpc's libSystem for Linux: task calls. */
#ifndef MACHIPC_MACH_TASK_H
#define MACHIPC_MACH_TASK_H

#include <mach/mach_types.h>
#include <mach/kern_return.h>
#include <mach/task_special_ports.h>

#ifdef __cplusplus
extern "C" {
#endif

kern_return_t task_get_special_port(task_inspect_t task, int which_port, mach_port_t *special_port);

#ifdef __cplusplus
}
#endif

#endif
