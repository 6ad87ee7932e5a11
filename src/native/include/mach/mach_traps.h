/* MachIpc's libSystem for Linux: the traps it serves. */
#ifndef MACHIPC_MACH_MACH_TRAPS_H
#define MACHIPC_MACH_MACH_TRAPS_H

#include <mach/port.h>
#include <mach/kern_return.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The pid of the task whose task (or task name) port t names; *x = -1 and KERN_FAILURE otherwise. */
kern_return_t pid_for_task(mach_port_name_t t, int *x);

#ifdef __cplusplus
}
#endif

#endif
