/* MachIpc's libSystem for Linux: the task's own port name, set when the process joins a kernel host. */
#ifndef MACHIPC_MACH_MACH_INIT_H
#define MACHIPC_MACH_MACH_INIT_H

#include <mach/port.h>

#ifdef __cplusplus
extern "C" {
#endif

extern mach_port_t mach_task_self_;
#define mach_task_self() mach_task_self_
#define current_task() mach_task_self()

#ifdef __cplusplus
}
#endif

#endif
